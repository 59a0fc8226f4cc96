"""The runtime's base layer: user errors (errors.py), reading lines of text from files and
streams (lines.py), and a model's vocabulary with its special symbols (vocabulary.py)."""
