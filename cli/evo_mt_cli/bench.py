"""`evo-mt bench`: what evolving attention costs and buys, one subcommand per measurement.

    model      EA against fairseq's Transformer of the same size, in one process
    translate  whole `evo-mt translate` processes against fairseq-interactive (and CTranslate2)
    threads    workers x threads of `evo-mt translate` on ONNX Runtime, at 1, 32 and all lines
    serve      a real `evo-mt serve` process under concurrent clients
    quality    vanilla, EA and ablations trained alike, scored, and tested for significance
    paragraphs test sentences as paragraphs against one a line: BLEU, time, the segmenters
    constraints  required words and a glossary: met, BLEU, time; what a translation's score is worth
    shortlist  a vocabulary shortlist against the whole vocabulary: time, BLEU, exactness
    alignment  word alignments on the toy corpus: content words aligned with their counterparts
    ray        an exported folder on Ray Data's workers against one process

Each prints its table and, with --json, writes its figures (evo_mt.evidence holds the measuring).
"""

import json
from pathlib import Path
from typing import Any, Dict, List

import typer

from evo_mt.export.vocabulary_map import FREQUENT, PER_PIECE
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.model.folder import is_model_folder
from evo_mt_cli.help import PlainHelp

bench_app = typer.Typer(
    name="bench",
    help="What evolving attention costs and buys: one subcommand per measurement.",
    no_args_is_help=True,
    cls=PlainHelp,
)

JsonOpt = typer.Option(None, "--json", help="Also write the figures as JSON here.")
RepeatsOpt = typer.Option(3, min=1, help="Timed repetitions; the median is reported.")
InputOpt = typer.Option(..., "--input", help="The lines to translate (a text file).")
BeamOpt = typer.Option(5, min=1, help="Beam size.")
ClientsOpt = typer.Option(8, min=1, help="Concurrent clients.")
RequestLinesOpt = typer.Option(10, min=1, help="Lines per request.")


def _write_json(report: Dict[str, Any], path: Path | None) -> None:
    from evo_mt.runtime.base.files import atomic_file

    if path is None:
        return
    with atomic_file(path) as scratch:
        scratch.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"figures written to {path}", err=True)


@bench_app.command()
def model(
    size: str = typer.Option("iwslt_de_en", help="tiny, small (128 wide), iwslt_de_en, wmt_en_de, big."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if present)."),
    dtype: str = typer.Option("fp32", help="fp32, bf16, or fp16 (CUDA only)."),
    corpus: Path | None = typer.Option(None, help="A text file whose sentence lengths shape the batches."),
    repeats: int = RepeatsOpt,
    train_batches: int = typer.Option(6, min=1, help="Batches per timed training repetition."),
    generate_batches: int = typer.Option(4, min=1, help="Batches per timed generation repetition."),
    json_path: Path | None = JsonOpt,
) -> None:
    """EA against fairseq's Transformer of the same size, in one process.

    Training tokens/s, peak memory and beam-5 sentences/s for both, and the ratios.

    Example: evo-mt bench model --size iwslt_de_en --json bench.json
    """
    from evo_mt.evidence import model_cost

    report = model_cost.bench(
        size, device=device, dtype=dtype, corpus=corpus, train_batches=train_batches,
        generate_batches=generate_batches, repeats=repeats,
    )
    typer.echo(model_cost.table(report))
    _write_json(report, json_path)


@bench_app.command()
def translate(
    run: Path = typer.Argument(..., help="An EA run folder."),
    input_file: Path = InputOpt,
    vanilla: Path | None = typer.Option(
        None, help="A vanilla run of the same size: also EA / vanilla, and CTranslate2 on it."
    ),
    beam: int = BeamOpt,
    repeats: int = RepeatsOpt,
    size: str | None = typer.Option(
        None, help="Untrained EA and vanilla models of this size (small, iwslt_de_en) instead of the runs'."
    ),
    json_path: Path | None = JsonOpt,
) -> None:
    """Whole `evo-mt translate` processes against fairseq-interactive (and CTranslate2).

    The lean engine (fp32, int8), fairseq's generator and the exported model (fp32, int8):
    time, one-line time, peak memory, and how many translations equal the lean engine's.

    Example: evo-mt bench translate runs/toy --input lines.txt --vanilla runs/toy-vanilla
    """
    from evo_mt.evidence.translate_speed import table, translation_speed

    report = translation_speed(run, input_file, vanilla=vanilla, beam=beam, repeats=repeats, size=size)
    typer.echo(table(report))
    _write_json(report, json_path)


@bench_app.command()
def threads(
    model: Path = typer.Argument(..., help="An exported folder or a run folder (its cached export)."),
    input_file: Path = InputOpt,
    beam: int = BeamOpt,
    repeats: int = RepeatsOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """Workers x threads of `evo-mt translate` on ONNX Runtime, at 1, 32 and all lines.

    Whole processes under each layout that fills the cores (and one thread): time, peak
    memory, and whether the translations are those of one worker of one thread.

    Example: evo-mt bench threads runs/toy --input lines.txt
    """
    from evo_mt.evidence.thread_layout import table, thread_layouts

    report = thread_layouts(model, input_file, beam=beam, repeats=repeats)
    typer.echo(table(report))
    _write_json(report, json_path)


@bench_app.command()
def serve(
    run: Path = typer.Argument(..., help="A run folder."),
    input_file: Path = InputOpt,
    clients: int = ClientsOpt,
    request_lines: int = RequestLinesOpt,
    beam: int = BeamOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """Load-test a real `evo-mt serve` process (and `evo-mt translate` on the same lines).

    Example: evo-mt bench serve runs/toy --input lines.txt --clients 8
    """
    from evo_mt.evidence.serve_load import serve_load, summary

    report = serve_load(run, input_file, clients=clients, beam=beam, request_lines=request_lines)
    typer.echo(summary(report))
    _write_json(report, json_path)


@bench_app.command()
def cache(
    model: Path = typer.Argument(..., help="An exported model folder, a run folder or a checkpoint."),
    input_file: Path = InputOpt,
    copies: int = typer.Option(5, min=1, help="How many times the file's lines are sent."),
    clients: int = ClientsOpt,
    request_lines: int = RequestLinesOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """The translation cache on repeated text: `evo-mt serve` without and with it, side by side.

    Example: evo-mt bench cache toy-model --input lines.txt --copies 5
    """
    from evo_mt.evidence.serve_load import cache_effect

    report = cache_effect(model, input_file, copies=copies, clients=clients, request_lines=request_lines)
    without, with_cache = report["without_cache"], report["with_cache"]
    typer.echo(
        f"{report['lines']} lines ({report['distinct_lines']} distinct), {report['clients']} client(s)"
    )
    for name, found in (("without the cache", without), ("with the cache", with_cache)):
        typer.echo(
            f"{name + ':':19} {found['lines_per_s']:7.1f} lines/s, {found['sentences_decoded']} sentences "
            f"decoded, {found['cache_hits']} cache hits"
        )
    typer.echo(f"speed-up {report['speedup']:.2f}x; outputs identical: {report['identical_outputs']}")
    _write_json(report, json_path)


@bench_app.command()
def memory(
    models: List[Path] = typer.Argument(..., help="Models of `evo-mt serve`, one per language pair."),
    json_path: Path | None = JsonOpt,
) -> None:
    """The memory of one `evo-mt serve` of the models: started, and after a request of each pair.

    Example: evo-mt bench memory models/en-de models/de-fr
    """
    from evo_mt.evidence.serve_load import served_memory

    report = served_memory(models)
    typer.echo(
        f"{report['models']} model(s): {report['started_rss_mib']:.0f} MiB started, "
        f"{report['rss_mib']:.0f} MiB after a request of each pair (peak {report['peak_rss_mib']:.0f} MiB)"
    )
    _write_json(report, json_path)


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def quality(
    ctx: typer.Context,
    recipe: str = typer.Argument(..., help="A recipe folder or the name of a project recipe."),
    variants: str = typer.Option("vanilla,ea", help="Variants, comma-separated (vanilla,ea,vanilla*1.08)."),
    seeds: str = typer.Option("1,2,3", help="Seeds, comma-separated."),
    source: str | None = typer.Option(
        None, "--source", help="A local archive or folder, or a URL, instead of the official download."
    ),
    workdir: Path | None = typer.Option(None, help="Where the runs go."),
    results: Path | None = typer.Option(
        None,
        help="Keep each finished run's test hypotheses and figures here (small text, to commit); a run "
        "kept here is not trained again; the tables go here too.",
    ),
    json_path: Path | None = JsonOpt,
) -> None:
    """Vanilla, EA and ablations trained alike, scored and compared (paired tests).

    Other options go to fairseq-train.

    Example: evo-mt bench quality gettext_en_de --source corpus/ --variants vanilla,ea --seeds 1,2,3
    """
    from evo_mt.evidence.quality import compare_variants, default_workdir, table
    from evo_mt.pipeline.recipes import load_recipe

    loaded = load_recipe(recipe)
    root = workdir.resolve() if workdir is not None else default_workdir(loaded)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds must be integers separated by commas, not {seeds!r}") from None
    kept = results.resolve() if results is not None else None
    report = compare_variants(
        loaded, root, source=source, seeds=seed_list, variants=variants.split(","), overrides=ctx.args,
        results=kept,
    )
    typer.echo(table(report))
    typer.echo(f"quality comparison written to {(kept or root) / 'quality.json'}", err=True)
    _write_json(report, json_path)


@bench_app.command()
def paragraphs(
    model: Path = typer.Argument(..., help="A run folder or an exported model folder."),
    source: Path | None = typer.Option(
        None, help="Source sentences, one a line (default: a run folder's raw test source)."
    ),
    references: Path | None = typer.Option(
        None, help="Their references (default: a run folder's raw test references)."
    ),
    repeats: int = RepeatsOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """Test sentences as paragraphs against the same sentences one a line.

    Paragraphs of 3-5 test sentences are translated as one line each and the sentences one a
    line: BLEU, chrF and time side by side; then a line of 80 sentences; then how exactly
    sentencex (and pysbd, syntok if installed) cut the paragraphs.

    Example: evo-mt bench paragraphs runs/toy
    """
    from evo_mt.evidence import paragraphs as measuring
    from evo_mt.runtime.base.lines import read_lines
    from evo_mt.translators import load_translator

    translator = load_translator(model, device="cpu")
    if source is None or references is None:
        if is_model_folder(model):
            raise UserError("an exported folder holds no test set: give --source and --references")
        from evo_mt.pipeline.run_folder import find_checkpoint

        run = find_checkpoint(model)[0]
        recipe = run.recipe()
        source = source or run.text("test", recipe.source_lang)
        references = references or run.text("test", recipe.target_lang)
    report = measuring.measure(translator, read_lines(source), read_lines(references), repeats=repeats)
    typer.echo(measuring.table(report))
    _write_json(report, json_path)


@bench_app.command()
def constraints(
    model: Path = typer.Argument(
        ..., help="A run folder, a checkpoint inside one, or an exported model folder."
    ),
    source: Path = typer.Option(..., help="The test source (raw text)."),
    reference: Path = typer.Option(..., help="Its reference translations."),
    checkpoint: Path | None = typer.Option(None, help="With a run folder: this checkpoint file."),
    lines: int | None = typer.Option(None, min=1, help="Only the first this many sentences."),
    beam: int = BeamOpt,
    batch_size: int = typer.Option(32, min=1, help="Sentences per batch."),
    json_path: Path | None = JsonOpt,
) -> None:
    """Required words and a glossary against unconstrained decoding; what a score is worth.

    Reference words the translation misses, and a glossary of the test set's aligned terms:
    constraints met, BLEU, chrF, decoding time with and without; and the sentence chrF of
    each quarter of the translations sorted by score.

    Example: evo-mt bench constraints runs/gettext --source test.en --reference test.de
    """
    from evo_mt.evidence.constrained_decoding import bench, table
    from evo_mt.translators import load_translator

    # A test set holds one sentence a line: not split, as `evo-mt score` translates it.
    # A run is measured on the lean engine, where it was (the export is measured as a folder).
    engine = None if is_model_folder(model) else "lean"
    translator = load_translator(
        model, checkpoint=checkpoint, beam=beam, device="cpu", engine=engine, split=False
    )
    report = bench(translator, source, reference, batch_size, lines)
    typer.echo(table(report))
    _write_json(report, json_path)


@bench_app.command()
def shortlist(
    run: Path = typer.Argument(..., help="A run folder (its default checkpoint is exported)."),
    source: Path = typer.Option(..., help="The test source (raw text)."),
    reference: Path = typer.Option(..., help="Its reference translations."),
    pieces: int = typer.Option(PER_PIECE, min=1, help="Target pieces kept per source piece."),
    frequent: int = typer.Option(FREQUENT, min=1, help="The most frequent target pieces, always allowed."),
    lines: int | None = typer.Option(None, min=1, help="Only the first this many sentences."),
    repeats: int = RepeatsOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """A vocabulary shortlist against the whole vocabulary, on one exported model.

    Time, BLEU, chrF and the pieces a step scores per batch, with and without the map of
    `evo-mt export --shortlist`; and the shortlisted export against the lean engine given
    the same map, line by line.

    Example: evo-mt bench shortlist runs/gettext_en_de --source test.en --reference test.de
    """
    from evo_mt.evidence.shortlist_cost import bench, table

    report = bench(run, source, reference, shortlist=(pieces, frequent), repeats=repeats, lines=lines)
    typer.echo(table(report))
    _write_json(report, json_path)


@bench_app.command()
def alignment(
    model: Path = typer.Argument(..., help="A toy run folder, or a folder exported from one."),
    source: Path | None = typer.Option(None, help="Toy source sentences (default: a run's raw test source)."),
    seed: int | None = typer.Option(None, help="The toy corpus's seed (default: the run's, else 1)."),
    lines: int = typer.Option(500, min=1, help="Only the first this many sentences."),
    json_path: Path | None = JsonOpt,
) -> None:
    """Word alignments on the toy corpus, whose generator knows each word's counterpart.

    The share of content words (nouns, verbs, adjectives) whose counterpart in the
    translation is aligned to them, and the time alignments add.

    Example: evo-mt bench alignment runs/toy
    """
    from evo_mt.evidence import alignment as measuring
    from evo_mt.runtime.base.lines import read_lines
    from evo_mt.translators import load_translator

    translator = load_translator(model, device="cpu", engine=None if is_model_folder(model) else "lean")
    if source is None or seed is None:
        if is_model_folder(model):
            if source is None:
                raise UserError("an exported folder holds no test set: give --source")
            seed = 1 if seed is None else seed
        else:
            from evo_mt.pipeline.run_folder import find_checkpoint

            run = find_checkpoint(model)[0]
            recipe = run.recipe()
            if recipe.corpus.name != "toy":
                raise UserError(f"{model}: not a toy run (only the toy corpus knows each word's counterpart)")
            source = source or run.text("test", recipe.source_lang)
            seed = recipe.corpus.seed if seed is None else seed
    report = measuring.measure(translator, read_lines(source)[:lines], seed)
    typer.echo(measuring.table(report))
    _write_json(report, json_path)


@bench_app.command()
def ray(
    model: Path = typer.Argument(..., help="An exported model folder."),
    input_file: Path = InputOpt,
    workers: int = typer.Option(2, min=1, help="Ray workers (one thread each)."),
    beam: int = BeamOpt,
    repeats: int = RepeatsOpt,
    json_path: Path | None = JsonOpt,
) -> None:
    """An exported folder translated on Ray Data's workers against one process.

    Whole `evo-mt translate DIR` processes, taking turns: one process at its default layout,
    and `--ray --workers N` on a local Ray instance (its start-up counted): time, lines per
    second, and whether Ray's output is the one process's (pip install 'evo-mt[cluster]').

    Example: evo-mt bench ray toy-model --input lines.txt --workers 2
    """
    from evo_mt.evidence.ray_throughput import ray_throughput, table

    if not is_model_folder(model):
        raise UserError(f"{model}: not an exported model folder (evo-mt export)")
    report = ray_throughput(model, input_file, workers=workers, beam=beam, repeats=repeats)
    typer.echo(table(report))
    _write_json(report, json_path)
