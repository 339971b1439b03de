"""The judge: a model's verdicts on a finished dialogue, for what rules cannot check."""
