"""The pipeline library, in the order data flows through it:

    recipes            recipe.toml, validated
    run_folder         the run folder: every path and checkpoint name of a run
    run_lock           one prepare or train per run folder
    corpora/           corpus readers (toy, iwslt14, wmt14, plain) → raw/
    prepare            raw/ → sentencepiece/ → encoded/ → data-bin/
    fairseq_commands   every fairseq command line evo-mt runs
    training           fairseq-train (train_worker, or torchrun) → checkpoints/, with its
                       display (train_log, train_display) and known warnings filtered (deprecations)
    averaging          checkpoints/ → checkpoint_averaged.pt
    translation        text → text with a checkpoint
    scoring            translation of a split, sacreBLEU → scores/
    run_table          a table of the run folders in a folder

Its public names are exported by `evo_mt` itself.
"""
