"""The toolsmith: expands one API seed into an introduction and structured function documentation."""
