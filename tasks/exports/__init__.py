"""The corpus in the formats trainers and benchmarks read: one module per format, each a rendering of
the one dialogue record (`schemas/dialog.py`).

A format module offers `write(source, folder) -> list[ExportFile]`: it writes the run's accepted
dialogues of each split (`source.dialogs("train")`, `source.dialogs("eval")`) under `folder`, and
returns what it wrote. `flows/export.py` picks the module by name (`EXPORTERS`), then adds the
split (`split.json`), the export's summary (`export.json`) and the dataset card (`README.md`).
"""
