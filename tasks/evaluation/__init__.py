"""Evaluation of models on held-out tools: sources, the model's play, the rules, the scores."""
