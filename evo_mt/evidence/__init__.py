"""Evidence: what evolving attention costs and what it buys, measured.

    batches            synthetic batches shaped like real ones
    measures           timing and memory of one model (training step, beam search)
    model_cost         the cost benchmark: vanilla against EA, side by side
    translate_speed    whole-process translation speed against fairseq-interactive
    quality            vanilla, EA and ablations trained alike and scored
    attention_maps     pictures of the attention maps, chain by chain
"""
