"""The `evo-mt` command line: prepare, train, average, score, translate, serve, bench, compare,
attention, plot, runs.

Each command parses its flags and calls the library (`evo_mt.pipeline`, `evo_mt.evidence`);
the library's errors become one line here, naming the flag where the library named a parameter.
"""

import json
import logging
import os
import sys
from pathlib import Path
from typing import List

import typer

from evo_mt.export.vocabulary_map import FREQUENT, PER_PIECE
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.batching import BATCH_SIZE
from evo_mt.runtime.text.documents.formats import FORMATS
from evo_mt_cli.bench import bench_app
from evo_mt_cli.documents import chosen_format, translate_document_file
from evo_mt_cli.help import PlainHelp

app = typer.Typer(
    name="evo-mt",
    help="Machine translation with the Evolving Attention Transformer (fairseq plugin `evo_mt`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=PlainHelp,
)


def _version(shown: bool) -> None:
    if shown:
        from evo_mt import __version__

        typer.echo(f"evo-mt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Machine translation with the Evolving Attention Transformer (fairseq plugin `evo_mt`)."""


RecipeArg = typer.Argument(
    ..., help="A recipe folder (recipes/iwslt14) or the name of a project recipe (toy)."
)
WorkdirOpt = typer.Option(None, "--workdir", help="The run folder (default: runs/<recipe name>).")
SourceOpt = typer.Option(
    None, "--source", help="A local archive or folder, or a URL, instead of the official download."
)


EngineOpt = typer.Option(
    "lean", help="lean: evo-mt's own inference engine (no fairseq import); fairseq: fairseq's generator."
)
QuantizeOpt = typer.Option("none", help="int8: 8-bit weights for the Linear layers (lean engine, CPU).")
RunEngineOpt = typer.Option(
    None,
    help="onnx (default on a CPU): the checkpoint exported once into RUN/exported/ and run on ONNX "
    "Runtime; lean: evo-mt's own PyTorch engine (the default on a GPU); fairseq: fairseq's generator.",
)
BeamOpt = typer.Option(None, min=1, help="Beam size (default: the recipe's score.beam, or the export's).")
LenpenOpt = typer.Option(None, help="Length penalty (default: the recipe's score.lenpen, or the export's).")
SplitOpt = typer.Option(
    True,
    "--split/--no-split",
    help="Cut each line into sentences, translate them and join them (default); "
    "--no-split: each line is one sentence, as in a test set.",
)
WorkersOpt = typer.Option(
    None, min=1, help="Batches translated at once, a thread each (ONNX Runtime; default: one per core)."
)
ThreadsOpt = typer.Option(
    None, min=1, help="ONNX Runtime's threads inside each worker (default: the cores over the workers)."
)
RunOrModelHelp = "A run folder, a checkpoint inside one, or an exported model folder (`evo-mt export`)."
ModelsHelp = (
    "Models, one per language pair: run folders, checkpoints or exported model folders (`evo-mt export`)."
)
CheckpointOpt = typer.Option(
    None,
    help="A checkpoint file, or the name of one in RUN/checkpoints "
    "(default: averaged, else best, else last).",
)


def _recipe_and_run(recipe: str, workdir: Path | None):
    from evo_mt.pipeline.recipes import load_recipe
    from evo_mt.pipeline.run_folder import Run

    loaded = load_recipe(recipe)
    return loaded, Run.for_recipe(loaded, workdir)


@app.command()
def prepare(
    recipe: str = RecipeArg, workdir: Path | None = WorkdirOpt, source: str | None = SourceOpt
) -> None:
    """Obtain, clean, split, encode (sentencepiece) and binarize a recipe's corpus.

    Finished stages are skipped; an interrupted one is redone.

    Example: evo-mt prepare recipes/iwslt14 --source ~/corpora/de-en.tgz
    """
    from evo_mt.pipeline.prepare import prepare as run_prepare

    loaded, run = _recipe_and_run(recipe, workdir)
    run_prepare(loaded, run, source)
    typer.echo(f"prepared {loaded.name} in {run.root} (binarized data: {run.data_bin})", err=True)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    recipe: str = RecipeArg,
    workdir: Path | None = WorkdirOpt,
    source: str | None = SourceOpt,
    cpu: bool = typer.Option(False, "--cpu", help="Train on the CPU even if a GPU is present."),
    nproc_per_node: int = typer.Option(1, help="Processes per node (torchrun); >1 trains data-parallel."),
    nnodes: int = typer.Option(1, help="Nodes taking part (torchrun)."),
    node_rank: int = typer.Option(0, help="This node's rank (torchrun)."),
    master_addr: str = typer.Option("127.0.0.1", help="Address of the rank-0 node (torchrun)."),
    master_port: int = typer.Option(29500, help="Port of the rank-0 node (torchrun)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show fairseq's whole log, not a progress bar."),
) -> None:
    """Prepare if needed, then train with the recipe's fairseq options; resumes when run again.

    Any other option is passed to fairseq-train and overrides the recipe. Progress and one line
    per epoch go to stderr; fairseq's whole log goes to RUN/train.log.

    Example: evo-mt train toy --max-epoch 2 --lr 0.001
    """
    from evo_mt.pipeline.prepare import prepare as run_prepare
    from evo_mt.pipeline.run_lock import holding
    from evo_mt.pipeline.training import train as run_train

    loaded, run = _recipe_and_run(recipe, workdir)
    with holding(run):  # one lock from preparation to the end of training
        run_prepare(loaded, run, source)
        updates = run_train(
            loaded,
            run,
            ctx.args,
            cpu=cpu,
            nproc_per_node=nproc_per_node,
            nnodes=nnodes,
            node_rank=node_rank,
            master_addr=master_addr,
            master_port=master_port,
            verbose=verbose,
        )
    typer.echo(f"trained {loaded.name}: {updates} updates; checkpoints in {run.checkpoints}", err=True)


@app.command()
def average(
    run: Path = typer.Argument(..., help="A run folder (runs/toy)."),
    last: int | None = typer.Option(
        None, "--last", min=1, help="How many checkpoints (default: the recipe's average_last)."
    ),
    kind: str = typer.Option(
        "any",
        help="any: the newest checkpoints by updates, epoch (checkpointE.pt) and update "
        "(checkpoint_E_U.pt) ones together; epoch or update: of that kind only.",
    ),
) -> None:
    """Average the newest N checkpoints (by the updates they were saved at) into checkpoint_averaged.pt.

    The line printed names each checkpoint and its updates, and says when they mix kinds or
    lie far apart.

    Example: evo-mt average runs/toy --last 3
    """
    from evo_mt.pipeline.averaging import average_run
    from evo_mt.pipeline.run_folder import Run

    typer.echo(average_run(Run(run.resolve()), last, kind).line(), err=True)


@app.command()
def score(
    run: Path = typer.Argument(..., help="A run folder (runs/toy)."),
    checkpoint: str | None = CheckpointOpt,
    split: str = typer.Option("test", help="The split to translate and score."),
    beam: int | None = BeamOpt,
    lenpen: float | None = LenpenOpt,
    batch_size: int | None = typer.Option(
        None, min=1, help="Sentences per batch (default: the run's recipe, score.batch_size)."
    ),
    engine: str = EngineOpt,
    quantize: str = QuantizeOpt,
) -> None:
    """Translate a split and score it with sacrebleu (BLEU with signature, chrF).

    Writes the hypotheses and a JSON report into RUN/scores/.

    Example: evo-mt score runs/toy --beam 5
    """
    from evo_mt.pipeline.run_folder import Run
    from evo_mt.pipeline.scoring import score_run

    report = score_run(
        Run(run.resolve()), checkpoint, split=split, beam=beam, lenpen=lenpen, batch_size=batch_size,
        engine=engine, quantize=quantize,
    )
    typer.echo(
        f"{split}: BLEU {report['bleu']:.2f}, chrF {report['chrf']:.2f} on "
        f"{report['hypotheses']}/{report['references']} sentences "
        f"({Path(report['checkpoint']).name}{_averaged_from(report)}, beam {report['beam']}"
        f"{_decoding(engine, quantize)}) "
        f"-> {report['report_file']}"
    )


def _averaged_from(report: dict) -> str:
    from evo_mt.pipeline.averaging import sources_text

    return f" = {sources_text(report['averaged_from'])}" if "averaged_from" in report else ""


def _decoding(engine: str, quantize: str) -> str:
    from evo_mt.pipeline.engines import decoding_variant

    variant = decoding_variant(engine, quantize)
    return f", {variant}" if variant else ""


@app.command()
def translate(
    models: List[Path] = typer.Argument(..., help=ModelsHelp),
    source_language: str | None = typer.Option(
        None, "--source", help="The input's language, or auto: each line's is detected (default: the one)."
    ),
    target_language: str | None = typer.Option(
        None, "--target", help="The language to translate into (default: the only one the models reach)."
    ),
    beam: int | None = BeamOpt,
    batch_size: int = typer.Option(BATCH_SIZE, min=1, help="Sentences decoding at once, among the workers."),
    nbest: int = typer.Option(1, min=1, help="Hypotheses per line, tab-separated on that line."),
    lenpen: float | None = LenpenOpt,
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if present)."),
    engine: str | None = RunEngineOpt,
    quantize: str = QuantizeOpt,
    workers: int | None = WorkersOpt,
    threads: int | None = ThreadsOpt,
    split: bool = SplitOpt,
    input_file: Path | None = typer.Option(None, "--input", help="Read this file instead of standard input."),
    output_file: Path | None = typer.Option(
        None, "--output", help="Write this file instead of standard output (replaced once all is translated)."
    ),
    text_format: str | None = typer.Option(
        None,
        "--format",
        help=f"{', '.join(FORMATS)} (default: by --input's extension, else text); markdown keeps "
        "code, HTML, link targets, URLs and block markers as they are; html keeps tags, attributes, "
        "scripts, styles, pre and code, inline tags placed on their words.",
    ),
    constraints: bool = typer.Option(
        False, "--constraints", help="Each line is 'source<TAB>phrase<TAB>...', unsplit: each phrase appears."
    ),
    glossary: Path | None = typer.Option(
        None, help="A 'source term<TAB>target term' file: a sentence's terms' targets must appear."
    ),
    mid_word: bool = typer.Option(
        False, "--mid-word", help="A required phrase may also start inside a word."
    ),
    json_lines: bool = typer.Option(
        False, "--json", help="One JSON object per line: translation, score, nbest, constraints."
    ),
    alignment: bool = typer.Option(
        False, "--alignment", help="With --json: the word alignment, 'S-T' pairs (source, target word)."
    ),
    shard_id: int = typer.Option(
        0, "--shard-id", help="With --num-shards: translate this shard of the input (from 0)."
    ),
    num_shards: int = typer.Option(
        1, "--num-shards", help="Cut the input into this many blocks of consecutive lines and translate "
        "one (--shard-id); the shards' outputs joined in order (cat) are the whole output.",
    ),
    on_ray: bool = typer.Option(
        False, "--ray", help="Translate an exported folder on Ray (pip install 'evo-mt[cluster]'): a local "
        "Ray instance, or the cluster RAY_ADDRESS names; --workers: Ray workers (default: its CPUs).",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Translate on the Ray cluster at this address (implies --ray)."
    ),
) -> None:
    """Translate raw text from stdin to stdout: one output line per input line, in order.

    Each line is cut into sentences, which are translated and joined back; blank lines and
    the whitespace around and between sentences are kept.

    Example: evo-mt translate toy-model --input corpus.en --shard-id 0 --num-shards 3 > out.0

    Example: evo-mt translate runs/toy < sentences.txt > translations.txt

    Example: evo-mt translate runs/toy --input README.md --output README.de.md

    Example: evo-mt translate runs/toy --input report.docx --output report.de.docx

    Several models (one per pair) translate lines of any of their source languages, through a
    shared language when no model links two directly:

    Example: evo-mt translate models/en-de models/de-fr --source auto --target fr < mixed.txt
    """
    import contextlib

    from evo_mt.runtime.base.lines import open_text_source, stream_lines
    from evo_mt.runtime.text.routing import Catalog, Router
    from evo_mt.translators import load_translator

    text_format = chosen_format(text_format, input_file)
    if text_format != "text" and nbest > 1:
        raise OptionError("nbest", f"must be 1 with --format {text_format} (a document has one translation)")
    if input_file is not None and output_file is not None and _same_file(input_file, output_file):
        raise OptionError("output", f"{output_file} is the --input file; name another file")
    if alignment and not json_lines:
        raise OptionError("alignment", "goes with --json (the alignment is a field of its objects)")
    if text_format != "text" and (constraints or glossary or json_lines):
        raise OptionError("format", f"{text_format} goes without --constraints, --glossary and --json")
    from evo_mt.runtime.base.shards import check_shard, shard_of

    check_shard(shard_id, num_shards)
    sharded = num_shards > 1
    if sharded and text_format != "text":
        raise OptionError("num_shards", f"does not apply to --format {text_format} (a document is one whole)")
    on_ray = on_ray or ray_address is not None
    if on_ray:
        languages = (source_language, target_language)
        _check_ray_options(models, text_format, constraints, glossary, sharded, *languages)

    def load_router() -> Router:
        translators = [
            load_translator(
                model, beam=beam, nbest=nbest, lenpen=lenpen, device=device,
                engine=engine, quantize=quantize, workers=workers, threads=threads, split=split,
            )
            for model in models
        ]
        catalog = Catalog(translators, [str(model) for model in models])
        return Router(catalog, source_language, target_language)

    if text_format not in ("text", "markdown"):
        translate_document_file(load_router, text_format, input_file, output_file, batch_size)
        return
    from evo_mt.runtime.text.glossary import Glossary

    terms = None if glossary is None else Glossary.load(glossary)
    # The input is opened before the model loads: a missing file is told at once.
    source = open_text_source(input_file, text_only=True) if input_file is not None else sys.stdin.buffer
    # Ray's workers load the folder, each its own.
    translator = None if on_ray else load_router()
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if output_file is not None:
            from evo_mt.runtime.base.files import atomic_file

            scratch = stack.enter_context(atomic_file(output_file))
            out = stack.enter_context(open(scratch, "w", encoding="utf-8"))
        with source:
            first_line = 1
            raw = source
            if sharded:  # the block's lines only, numbered as in the whole input
                first, raw = shard_of(source, shard_id, num_shards)
                first_line += first
            lines = stream_lines(raw)
            if on_ray:
                from evo_mt.runtime.cluster.ray_translation import translate_on_ray

                outputs = translate_on_ray(
                    models[0], list(lines), address=ray_address, workers=workers,
                    threads=threads or 1, beam=beam, nbest=nbest, lenpen=lenpen, split=split,
                    batch_size=batch_size, json_lines=json_lines,
                )
                for output in outputs:
                    _emit([[output]], out)
                return
            if text_format == "markdown":
                from evo_mt.runtime.text.markdown import translate_markdown

                document = translate_markdown(
                    list(lines), lambda units: translator.translate_marked(units, batch_size=batch_size)
                )
                _emit([[line] for line in document], out)
                return
            from evo_mt.runtime.text.stream import translate_stream

            # A terminal gets each answer at once; a pipe is read in chunks sorted by length.
            found = translate_stream(
                translator, lines, batch_size=batch_size, interactive=source.isatty() and not sharded,
                constraints=constraints, glossary=terms, mid_word=mid_word, json_lines=json_lines,
                alignment=alignment, first_line=first_line,
            )
            for fields in found:
                _emit([fields], out)


def _check_ray_options(
    models: List[Path], text_format: str, constraints: bool, glossary: Path | None, sharded: bool,
    *languages: str | None,
) -> None:
    """--ray translates one exported folder's plain lines (one per line, or as JSON)."""
    from evo_mt.runtime.model.folder import is_model_folder

    if len(models) > 1 or any(languages):
        raise OptionError("ray", "takes one exported folder (no pivot, no --source/--target)")
    if not is_model_folder(models[0]):
        raise OptionError("ray", f"takes an exported folder (evo-mt export), not {models[0]}")
    for option, used in (("format markdown", text_format == "markdown"), ("constraints", constraints),
                         ("glossary", glossary is not None), ("num-shards", sharded)):
        if used:
            raise OptionError("ray", f"goes without --{option}")


def _same_file(first: Path, second: Path) -> bool:
    return second.exists() and first.exists() and os.path.samefile(first, second)


@app.command()
def serve(
    models: List[Path] = typer.Argument(..., help=ModelsHelp),
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8080, help="The port to listen on (0: any free port)."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if present)."),
    beam: int | None = typer.Option(
        None, min=1, help="Beam size of requests that do not say (default: the run's recipe, score.beam)."
    ),
    lenpen: float | None = LenpenOpt,
    max_lines: int = typer.Option(ServerLimits.max_lines, help="Most lines in one request."),
    max_chars: int = typer.Option(ServerLimits.max_chars, help="Most characters in one line."),
    max_body_bytes: int = typer.Option(ServerLimits.max_body_bytes, help="Largest request body, in bytes."),
    max_file_bytes: int = typer.Option(
        ServerLimits.max_file_bytes, help="Largest document uploaded to /translate_file, in bytes."
    ),
    max_beam: int = typer.Option(ServerLimits.max_beam, help="Largest beam a request may ask for."),
    max_queued_sentences: int = typer.Option(
        ServerLimits.max_queued_sentences, "--max-queued-sentences", "--max-queued-lines",
        help="Sentences waiting at most (of all requests); beyond, requests get 503.",
    ),
    batch_size: int = typer.Option(
        ServerLimits.batch_size, help="Most sentences in one batch (shared out among the workers)."
    ),
    max_tokens: int = typer.Option(ServerLimits.max_tokens, help="Most padded subword tokens in one batch."),
    max_wait_ms: float = typer.Option(
        ServerLimits.max_wait_ms, help="How long a line may wait for others to fill its batch."
    ),
    cache_size: int = typer.Option(
        ServerLimits.cache_size, help="Sentences whose translations are kept and answered again "
        "without the model (least recently used dropped first); 0: no cache.",
    ),
    api_keys: Path | None = typer.Option(
        None, "--api-keys", help="A file of API keys, one a line, each optionally followed by its own "
        "requests a minute; a key not in it gets 403. Read again on SIGHUP and when it changes.",
    ),
    keyless: str = typer.Option(
        "refuse", help="With --api-keys, requests without a key: refuse (403) or serve (at --rate-limit "
        "per client address, as LibreTranslate does).",
    ),
    rate_limit: int = typer.Option(
        0, help="Most translate/detect requests a minute per API key without a limit of its own (per "
        "client address for requests without a key); beyond, 429 with Retry-After. 0: no limit.",
    ),
    engine: str | None = RunEngineOpt,
    quantize: str = QuantizeOpt,
    workers: int | None = WorkersOpt,
    threads: int | None = ThreadsOpt,
    split: bool = SplitOpt,
    glossary: Path | None = typer.Option(
        None, help="A 'source term<TAB>target term' file for every request (a request's own terms win)."
    ),
) -> None:
    """Serve translations over HTTP: LibreTranslate's API, a web page, Prometheus metrics.

    Several models (one per language pair) are served together: each request goes to the model
    of its pair, or through two models when a shared language links them (es -> en -> de).

    POST /translate {"q": "a text", "source": "en", "target": "de"} answers
    {"translatedText": "..."}; evo-mt's own {"text": ["a line", ...]} answers {"translations":
    [...]}. GET / is a page that translates; GET /languages, POST /detect, GET /health,
    GET /info, GET /metrics, GET /openapi.json. SIGTERM or Ctrl-C: finish the requests in
    flight, then exit. SIGHUP: read the --api-keys file again.

    Example: evo-mt serve toy-model --port 8080 --api-keys keys.txt

    Example: evo-mt serve models/en-de models/de-fr --port 8080
    """
    from evo_mt.runtime.serving.keys import Access, KeyFile
    from evo_mt.runtime.serving.server import listen
    from evo_mt.runtime.serving.server import serve as run_server

    limits = ServerLimits(
        max_lines=max_lines,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        max_file_bytes=max_file_bytes,
        max_beam=max_beam,
        max_queued_sentences=max_queued_sentences,
        batch_size=batch_size,
        max_tokens=max_tokens,
        max_wait_ms=max_wait_ms,
        cache_size=cache_size,
    )
    for model in models:
        if not model.exists():
            raise UserError(f"{model}: no such run folder, checkpoint or exported folder")
    if beam is not None:  # before anything loads
        limits.check_beam(beam)
    access = Access(KeyFile(api_keys) if api_keys is not None else None, rate_limit, keyless)
    from evo_mt.runtime.text.glossary import Glossary

    terms = None if glossary is None else Glossary.load(glossary)
    listening = listen(host, port)
    from evo_mt.runtime.text.routing import Catalog
    from evo_mt.translators import load_translator

    translators = [
        load_translator(
            model, beam=beam, lenpen=lenpen, device=device, engine=engine, quantize=quantize,
            workers=workers, threads=threads, split=split,
        )
        for model in models
    ]
    names = [str(model) for model in models]
    catalog = Catalog(translators, names)  # two models of one pair: refused before serving

    def ready(address: str) -> None:
        for pair, translator in catalog.models.items():
            typer.echo(
                f"evo-mt serve: {catalog.names[pair]} ({pair[0]} to {pair[1]}, beam {translator.beam}) "
                f"on {address}",
                err=True,
            )

    run_server(translators, limits, listening, on_ready=ready, access=access, glossary=terms, names=names)


app.add_typer(bench_app)


@app.command()
def compare(
    systems: List[Path] = typer.Argument(
        ..., help="Run folders or hypothesis files, two or more; the first is the baseline."
    ),
    split: str = typer.Option("test", help="With run folders: the split `evo-mt score` translated."),
    checkpoint: str | None = CheckpointOpt,
    references: Path | None = typer.Option(
        None, help="The reference file (default: runs' raw/<split>.<target>; needed for hypothesis files)."
    ),
    source: Path | None = typer.Option(
        None, help="The source file, for length buckets (default: the runs' raw/<split>.<source>)."
    ),
    buckets: bool = typer.Option(False, "--buckets", help="Also sentence chrF by source and target length."),
    output: Path | None = typer.Option(None, help="Draw the length buckets in this PNG (implies --buckets)."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write everything as JSON here."),
) -> None:
    """Test whether systems differ from the first in BLEU and chrF, and where by length.

    The tests are sacreBLEU's paired bootstrap and approximate randomization.

    A run folder's hypotheses are those `evo-mt score` wrote (scores/<split>.<checkpoint>.hyp).

    Example: evo-mt compare runs/q/vanilla-seed1 runs/q/ea-seed1 --buckets --output buckets.png
    """

    from evo_mt.evidence import length_buckets, significance
    from evo_mt.evidence.attention_maps import write_picture
    from evo_mt.evidence.comparison import compare as run_compare
    from evo_mt.evidence.comparison import read_systems
    from evo_mt.runtime.base.files import atomic_file

    found = read_systems(systems, split=split, checkpoint=checkpoint, references=references, source=source)
    report = run_compare(found, buckets=buckets or output is not None)
    typer.echo(significance.table(report))
    if "length_buckets" in report:
        typer.echo(length_buckets.table(report["length_buckets"]))
    if output is not None:
        write_picture(length_buckets.draw(report["length_buckets"]), output)
        typer.echo(f"length buckets drawn in {output}", err=True)
    if json_path is not None:
        with atomic_file(json_path) as scratch:
            scratch.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"comparison written to {json_path}", err=True)


@app.command()
def attention(
    run: Path = typer.Argument(..., help="A run folder (runs/toy)."),
    sentence: str = typer.Argument(..., help="The source sentence to translate and draw."),
    checkpoint: str | None = CheckpointOpt,
    head: int | None = typer.Option(None, help="Draw this head instead of the mean over heads."),
    added: bool = typer.Option(False, "--added", help="Also draw what the convolution added, A_l - M_l."),
    output: Path = typer.Option(Path("attention.png"), help="The PNG to write."),
) -> None:
    """Draw each chain's attention maps layer by layer for one translated sentence (PNG).

    Example: evo-mt attention runs/toy "the red house ." --added --output attention.png
    """
    from evo_mt.evidence.attention_maps import collect, draw, write_picture
    from evo_mt.pipeline.translation import Translator

    translation, chains = collect(Translator.load(run, checkpoint, engine="fairseq"), sentence)
    write_picture(draw(chains, head=head, added=added), output)
    typer.echo(f"translation: {translation}")
    typer.echo(f"attention of {len(chains)} chains written to {output}", err=True)


@app.command()
def plot(
    runs: List[Path] = typer.Argument(..., help="Run folders (runs/toy), drawn on the same axes."),
    output: Path = typer.Option(Path("training.png"), help="The PNG to write."),
) -> None:
    """Draw training curves from the runs' train.log: train/valid loss, valid BLEU, learning rate.

    Example: evo-mt plot runs/toy runs/toy-vanilla --output curves.png
    """
    from evo_mt.evidence.curves import write_plot
    from evo_mt.pipeline.run_folder import Run

    write_plot([Run(run.resolve()) for run in runs], output)
    typer.echo(f"curves of {len(runs)} run(s) written to {output}", err=True)


@app.command()
def runs(folder: Path = typer.Argument(Path("runs"), help="A folder of run folders, or one run.")) -> None:
    """A table of the runs in a folder: options, progress, best valid loss and BLEU, scores.

    One row per run: its recipe, architecture and --ea-* options, epochs done, the best
    validation loss and BLEU, the checkpoints averaged (with the updates each was saved at),
    and the latest score.

    Example: evo-mt runs runs
    """
    from evo_mt.pipeline.run_table import find_runs, summary, table

    found = find_runs(folder)
    if not found:
        raise UserError(f"{folder}: no run folders in it (a run folder holds a recipe.toml)")
    typer.echo(table([summary(run) for run in found]))


@app.command()
def export(
    run_or_checkpoint: Path = typer.Argument(..., help="A run folder, or a checkpoint inside one."),
    output: Path = typer.Option(..., "--output", help="The folder to write (refused if it exists)."),
    quantize: str = typer.Option("none", help="int8: 8-bit weights for the matrix products (ONNX Runtime)."),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT if it exists."),
    shortlist: bool = typer.Option(
        False, "--shortlist", help="Decode each batch over a vocabulary map's pieces only (faster)."
    ),
    shortlist_pieces: int = typer.Option(
        PER_PIECE, min=1, help="With --shortlist: the target pieces kept per source piece."
    ),
    shortlist_frequent: int = typer.Option(
        FREQUENT, min=1, help="With --shortlist: the most frequent target pieces, always allowed."
    ),
) -> None:
    """Export a trained model to a self-contained folder that runs without torch or fairseq.

    The folder holds ONNX graphs, the sentencepiece model, the vocabularies, the decoding
    settings and a manifest of every file's hash.

    --shortlist adds a vocabulary map learnt from the run's training pairs (CTranslate2's
    format): a decoding step then scores only the target pieces its batch's source pieces
    map to, the most frequent ones, and required terms (docs/export.md).

    `evo-mt translate DIR` and `evo-mt serve DIR` run it on ONNX Runtime, without torch or
    fairseq; so does the runtime installed alone (`pip install evo-mt`).

    Example: evo-mt export runs/toy --output toy-model --quantize int8
    """
    from evo_mt.export.exporter import export as run_export

    kept = (shortlist_pieces, shortlist_frequent) if shortlist else None
    manifest = run_export(run_or_checkpoint, output, quantize=quantize, force=force, shortlist=kept)
    size = sum(entry["bytes"] for entry in manifest["files"].values()) / 2**20
    name = manifest["checkpoint"]["name"]
    mapped = f", shortlist {shortlist_pieces} per piece + {shortlist_frequent} frequent" if shortlist else ""
    typer.echo(f"exported {name} to {output} ({size:.1f} MiB, quantize {quantize}{mapped})", err=True)


def _emit(results: List[List[str]], out=sys.stdout) -> None:
    if out is not sys.stdout:  # a file: atomic_file states its errors
        out.writelines("\t".join(hypotheses) + "\n" for hypotheses in results)
        return
    try:
        for hypotheses in results:
            sys.stdout.write("\t".join(hypotheses) + "\n")
        sys.stdout.flush()
    except OSError as error:
        # Nothing more can reach stdout: drop what is buffered, so that exiting does not try again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(error, BrokenPipeError):  # `| head`: the reader has all it wanted
            sys.exit(0)
        raise UserError(f"standard output: cannot write the translations: {error.strerror}") from None


def one_line(error: Exception) -> str:
    """The error as the command line states it: a parameter the library named becomes its flag."""
    if isinstance(error, OptionError):
        return f"--{error.option.replace('_', '-')} {error.problem}"
    return str(error)


def _quick_translate(args: List[str]) -> dict | None:
    """`evo-mt translate`'s arguments parsed without building the whole application (a
    one-line translation starts sooner: docs/export.md); None where Typer parses them."""
    if not args or args[0] != "translate":
        return None
    from evo_mt_cli.quick_parse import parse

    return parse(translate, args[1:])


def main() -> None:
    # fairseq's own INFO logging would drown ours; warnings and errors still show.
    logging.basicConfig(level=logging.WARNING, format="evo-mt: %(message)s", stream=sys.stderr)
    logging.getLogger("evo_mt").setLevel(logging.INFO)
    try:
        quick = _quick_translate(sys.argv[1:])
        if quick is not None:
            try:
                translate(**quick)
            except (EOFError, KeyboardInterrupt):  # as Click states them when it runs a command
                raise typer.Abort() from None
            sys.exit(0)
        # Not standalone: the parser's usage errors come here, to be stated in one line like ours.
        status = app(standalone_mode=False, prog_name="evo-mt")
    except typer.Abort:  # Ctrl-C while the parser was reading input
        print("evo-mt: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as error:  # a bad option value, a missing argument: status 2
        context = getattr(error, "ctx", None)
        usage = f" (see: {context.command_path} --help)" if context is not None else ""
        print(f"evo-mt: error: {error.format_message()}{usage}", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 2))
    except UserError as error:  # CheckpointError is one
        print(f"evo-mt: error: {one_line(error)}", file=sys.stderr)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
