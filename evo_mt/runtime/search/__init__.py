"""Search: decoding settings and the types of a search's results (decoding.py), beam search
as fairseq's generator runs it (beam_search.py), and lexically constrained search for
required phrases (constrained_search.py). numpy only; no model, no text."""
