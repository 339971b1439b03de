"""LLM roles (toolsmith, user, assistant, executor) with their prompt templates, and the LLM gateway."""
