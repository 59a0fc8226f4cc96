"""The exported model: the folder's format and its verification (folder.py), the encoder and
decoder graphs on ONNX Runtime (sessions.py), and the vocabulary shortlist (shortlist.py)."""
