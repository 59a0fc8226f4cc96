"""`evo-mt export`: a run's checkpoint written as an exported model folder.

The graphs are traced by torch.onnx's TorchScript exporter: it keeps the lean engine's
Python as it runs for an example batch, and the sizes read from tensors stay dynamic
(any batch, beam, source and target length). int8 is onnxruntime's dynamic quantization
(8-bit weights for the matrix products, activations quantized on the fly), the same kind
as the lean engine's `--quantize int8`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import torch
from torch.onnx import symbolic_helper

from evo_mt.export.graphs import DecoderGraph, EncoderGraph
from evo_mt.export.vocabulary_map import learn_map
from evo_mt.inference.lean_model import LeanModel
from evo_mt.pipeline.run_folder import Run, find_checkpoint
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_dir, digest
from evo_mt.runtime.base.vocabulary import EOS, PAD, SPECIALS
from evo_mt.runtime.model import folder as names
from evo_mt.runtime.model.shortlist import write_map

QUANTIZATIONS = ("none", "int8")
OPSET = 17
# The example the graphs are traced with: sizes that differ from each other and from 1, so
# that no size is mistaken for another or for a constant; one sentence padded.
_SENTENCES, _BEAM, _SOURCE_LENGTH, _STEPS, _ALLOWED = 2, 3, 7, 4, 11


def export(
    run_or_checkpoint: Path | str,
    output: Path | str,
    *,
    quantize: str = "none",
    force: bool = False,
    shortlist: Tuple[int, int] | None = None,
) -> Dict[str, Any]:
    """Export a run's default checkpoint (or a checkpoint file in a run) to folder `output`.

    The folder is written beside `output` under a temporary name and renamed when complete;
    an existing `output` is refused unless `force`, and then replaced only at that rename.
    `shortlist` (pieces per source piece, frequent pieces): a vocabulary map learnt from the
    run's training pairs (evo_mt.export.vocabulary_map), which the runtime then decodes with.
    Returns the manifest.
    """
    if quantize not in QUANTIZATIONS:
        raise OptionError("quantize", f"must be one of {', '.join(QUANTIZATIONS)}, not {quantize!r}")
    if shortlist is not None and min(shortlist) < 1:
        raise OptionError(
            "shortlist", f"needs at least 1 piece per source piece and 1 frequent, not {shortlist}"
        )
    output = Path(output)
    if output.exists() and not force:
        raise OptionError("output", f"{output} exists; choose another folder or pass --force to replace it")
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    recipe = run.recipe()
    lean = LeanModel.load(checkpoint, run.data_bin)
    decoding = recipe.score.decoding()
    files, fields = names.FILES, {}
    if shortlist is not None:
        files = (*files, names.SHORTLIST)
        fields["shortlist"] = {"per_piece": shortlist[0], "frequent": shortlist[1]}
    with atomic_dir(output) as folder:
        if shortlist is not None:
            always, targets = learn_map(_training_pairs(run, lean.languages), lean.source, lean.target,
                                        per_piece=shortlist[0], frequent=shortlist[1])
            write_map(folder / names.SHORTLIST, always, targets)
        _export_graphs(lean, folder, shortlisted=shortlist is not None)
        if quantize == "int8":
            _quantize(folder)
        _optimize(folder)
        shutil.copyfile(run.sentencepiece, folder / names.SENTENCEPIECE)
        source_language, target_language = lean.languages
        shutil.copyfile(run.data_bin / f"dict.{source_language}.txt", folder / names.SOURCE_DICTIONARY)
        shutil.copyfile(run.data_bin / f"dict.{target_language}.txt", folder / names.TARGET_DICTIONARY)
        options = lean.options
        manifest = names.write_manifest(
            folder,
            {
                "checkpoint": {"name": checkpoint.name, "sha256": digest(checkpoint)},
                "recipe": recipe.name,
                "languages": {"source": source_language, "target": target_language},
                "architecture": options.get("arch") or options.get("_name"),
                "options": _plain(options),
                "max_source_positions": lean.max_source_positions,
                "max_target_positions": lean.max_target_positions,
                "training_source_pieces": run.training_source_pieces(),
                "decoding": vars(decoding),
                "quantize": quantize,
                "exporter": {"torch": torch.__version__, "opset": OPSET},
                **fields,
            },
            files,
        )
    return manifest


def _training_pairs(run: Run, languages: Tuple[str, str]) -> Iterator[Tuple[str, str]]:
    """The run's training sentence pairs as sentencepiece pieces (its encoded/ files)."""
    paths = [run.encoded / f"train.{language}" for language in languages]
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: missing; a shortlist is learnt from the run's encoded training text")
    with open(paths[0], encoding="utf-8") as sources, open(paths[1], encoding="utf-8") as targets:
        yield from zip(sources, targets, strict=True)


def _plain(options: Dict[str, Any]) -> Dict[str, Any]:
    """The model's options that JSON can hold as they are (numbers, strings, lists)."""
    kept = (str, int, float, bool, type(None))
    return {
        key: value
        for key, value in sorted(options.items())
        if isinstance(value, kept) or (isinstance(value, list) and all(isinstance(v, kept) for v in value))
    }


@symbolic_helper.parse_args("v", "v", "f")
def _lerp(g: Any, start: Any, end: Any, weight: float) -> Any:
    # torch.onnx writes both of torch.lerp's branches and a Where between them; evolving
    # attention's weights (alpha, beta) are constants, so the branch torch takes is known here.
    diff = g.op("Sub", end, start)
    if weight < 0.5:
        return g.op("Add", start, g.op("Mul", diff, g.op("Constant", value_t=torch.tensor(weight))))
    return g.op("Sub", end, g.op("Mul", diff, g.op("Constant", value_t=torch.tensor(1.0 - weight))))


@contextlib.contextmanager
def _constant_weight_lerp() -> Iterator[None]:
    torch.onnx.register_custom_op_symbolic("aten::lerp", _lerp, OPSET)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::lerp", OPSET)


def _export_graphs(lean: LeanModel, folder: Path, shortlisted: bool = False) -> None:
    model = lean.model.eval()
    first = model.decoder.layers[0]
    heads, head_dim = first.self_attn.heads, first.self_attn.head_dim
    kernel = model.arch.evolving.kernel_size if model.arch.evolving else 1
    tokens = torch.randint(EOS + 2, len(lean.source), (_SENTENCES, _SOURCE_LENGTH))
    tokens[:, -1] = EOS
    tokens[0, :2] = PAD  # left padding, as sources are batched
    encoder = EncoderGraph(model)
    sentence_axes = {0: names.SENTENCES, 1: names.SOURCE_LENGTH}
    per_sentence = {0: names.SENTENCES, 2: names.SOURCE_LENGTH}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings(), _constant_weight_lerp():
        # The tracer warns at every Python decision it records (shape tests, `if` on a
        # tensor); each one is the same for every input of the graph (see graphs.py).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, (tokens,), str(folder / names.ENCODER), dynamo=False, opset_version=OPSET,
            input_names=[names.SOURCE_TOKENS], output_names=encoder.output_names(),
            dynamic_axes={
                names.SOURCE_TOKENS: sentence_axes, names.SOURCE_PADDING: sentence_axes,
                **{name: per_sentence for name in encoder.output_names()[1:]},
            },
        )
        encoded = dict(zip(encoder.output_names(), encoder(tokens), strict=True))
        decoder = DecoderGraph(model, shortlisted)
        hypotheses = _SENTENCES * _BEAM
        table_rows = (_STEPS + 1) * hypotheses
        cached, axes = [], {}
        for name in decoder.state_names:
            kind = names.state_kind(name)
            if kind in names.PER_SENTENCE:
                cached.append(encoded[name])
                axes[name] = per_sentence
            elif kind in names.TABLES:
                cached.append(torch.randn(heads, table_rows, head_dim))
                axes[name] = {1: names.TABLE_ROWS}
                axes[names.NEXT + name] = {1: names.HYPOTHESES}
            else:  # a convolution's rows: as wide as the keys of the step before, or the source
                steps = kind == "decoder_rows"
                width, wide = (_STEPS, names.STEPS) if steps else (_SOURCE_LENGTH, names.SOURCE_LENGTH)
                cached.append(torch.randn(hypotheses + 1, heads, kernel - 1, width))
                axes[name] = {0: names.CACHED, 3: wide}
                axes[names.NEXT + name] = {0: names.HYPOTHESES, 3: "next_steps" if steps else wide}
        last_tokens = torch.randint(EOS + 2, len(lean.target), (hypotheses,))
        step = torch.tensor([_STEPS], dtype=torch.long)
        reorder = torch.randperm(hypotheses + 1)[:hypotheses]
        history = torch.randint(0, table_rows, (hypotheses, _STEPS))
        only_eos = torch.rand(hypotheses) < 0.3
        limits = only_eos, ~only_eos & (torch.rand(hypotheses) < 0.3)  # never both
        choice = (torch.randn(hypotheses), *limits, torch.tensor(2 * _BEAM))
        # A sorted shortlist, the specials first (evo_mt.runtime.model.shortlist); unused without one.
        allowed = torch.randperm(len(lean.target) - len(SPECIALS))[:_ALLOWED] + len(SPECIALS)
        vocabulary = torch.cat([torch.arange(len(SPECIALS)), allowed.sort().values])
        columns = {1: names.ALLOWED} if shortlisted else {}
        torch.onnx.export(
            decoder,
            (last_tokens, step, reorder, history, encoded[names.SOURCE_PADDING], *choice, vocabulary,
             *cached),
            str(folder / names.DECODER), dynamo=False, opset_version=OPSET,
            input_names=decoder.input_names(), output_names=decoder.output_names(),
            dynamic_axes={
                names.LAST_TOKENS: {0: names.HYPOTHESES}, names.REORDER: {0: names.HYPOTHESES},
                names.HISTORY: {0: names.HYPOTHESES, 1: names.STEPS}, names.SOURCE_PADDING: sentence_axes,
                **{name: {0: names.HYPOTHESES} for name in (names.SCORES, names.ONLY_EOS, names.NO_EOS)},
                **{name: {0: names.SENTENCES, 1: names.CANDIDATES} for name in names.STEP_OUTPUTS[1:]},
                names.LOG_PROBS: {0: names.HYPOTHESES, **columns}, names.VOCABULARY: {0: names.ALLOWED},
                names.ATTENTION: {0: names.HYPOTHESES, 1: names.SOURCE_LENGTH},
                **axes,
            },
        )


def _optimize(folder: Path) -> None:
    """Store each graph as ONNX Runtime's optimiser leaves it, so that opening a folder does
    not redo that work (a one-line translation's start-up). The level stops at the fusions
    that hold on any CPU; the layout changes specific to one CPU are made when the folder is
    opened, and cost little."""
    import onnxruntime

    from evo_mt.runtime.model.sessions import session_options

    for name in (names.ENCODER, names.DECODER):
        graph = folder / name
        optimized = folder / f"{name}.optimized"
        options = session_options(1, level="ORT_ENABLE_EXTENDED")
        options.optimized_model_filepath = str(optimized)
        onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        optimized.replace(graph)


def _quantize(folder: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for name in (names.ENCODER, names.DECODER):
        graph = folder / name
        quantized = folder / f"{name}.int8"
        # The quantizer logs a warning for every tensor it leaves in float (shapes, masks):
        # expected here, and nothing the user can act on.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(graph, quantized, weight_type=QuantType.QInt8)
        except Exception as error:  # onnxruntime's own message, in one line
            raise UserError(f"{graph}: int8 quantization failed ({error})") from error
        finally:
            logging.disable(logging.NOTSET)
        quantized.replace(graph)
