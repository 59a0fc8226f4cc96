"""The pipeline library, in the order data flows through it:

    recipes            recipe.toml, validated
    run_folder         the run folder: every path and checkpoint name of a run
    corpora/           corpus readers (toy, iwslt14, wmt14, plain) → raw/
    prepare            raw/ → sentencepiece/ → encoded/ → data-bin/
    fairseq_commands   every fairseq command line evo-mt runs
    training           fairseq-train (or torchrun) → checkpoints/
    averaging          checkpoints/ → checkpoint_averaged.pt
    translation        text → text with a checkpoint
    scoring            translation of a split, sacreBLEU → scores/

Its public names are exported by `evo_mt` itself.
"""
