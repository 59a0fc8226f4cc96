"""Evidence: what evolving attention costs and what it buys, measured.

    batches            synthetic batches shaped like real ones
    measures           timing and memory of one model (training step, beam search)
    model_cost         the cost benchmark: vanilla against EA, side by side
    translate_speed    whole-process translation speed and memory against fairseq-interactive
    vanilla_model      a vanilla checkpoint as fairseq's Transformer, converted for CTranslate2
    ct2_translate      CTranslate2 translating standard input (a process of translate_speed)
    quality            vanilla, EA and ablations trained alike and scored
    significance       paired tests against a baseline (sacreBLEU's bootstrap and randomization)
    length_buckets     sentence chrF by source and reference length: table and bars
    comparison         evo-mt compare: systems from run folders or files, tested and bucketed
    attention_maps     pictures of the attention maps, chain by chain
"""
