"""The assistant: reasons and acts in ReAct steps over a tool's functions until a final answer."""
