"""Fine-tuning on a corpus: the base and device, the chat template, the rows and their masks, the
trainer, and the model card (`flows/train.py` wires them)."""
