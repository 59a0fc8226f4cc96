"""The translator for what a user names: an exported folder, a run folder or a checkpoint.

    import evo_mt
    translator = evo_mt.load_translator("runs/toy")       # or an exported folder
    translator.translate(["a line"])

What the path is, which engine runs it and whether a run's cached export is fresh are
decided here, once: an exported folder runs on ONNX Runtime (torch is never imported); a run
or checkpoint by default on its export cached in the run folder (evo_mt.export.run_cache),
else on the lab's engines. `evo-mt translate`, `serve` and `bench` all load through here.
"""

from __future__ import annotations

from pathlib import Path

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.model.folder import is_model_folder
from evo_mt.runtime.text.translator import TextTranslator


def load_translator(
    model: Path | str,
    *,
    checkpoint: Path | str | None = None,
    beam: int | None = None,
    nbest: int = 1,
    lenpen: float | None = None,
    device: str | None = None,
    engine: str | None = None,
    quantize: str = "none",
    workers: int | None = None,
    threads: int | None = None,
    split: bool = True,
) -> TextTranslator:
    """The translator of `model`: an exported folder, a run folder (its default checkpoint,
    or `checkpoint`, a file or a name in its checkpoints/) or a checkpoint file in a run.

    `beam`, `lenpen` None: the model's own settings (an exported folder's, a run's recipe's);
    `engine`: "onnx", "lean" or "fairseq" (None: "onnx" on a CPU, evo_mt.export.run_cache.
    default_engine); `quantize`: a run's engine's ("int8"); `workers`, `threads`: ONNX
    Runtime's (evo_mt.runtime.model.sessions.thread_layout); `split` False: each line is one
    sentence."""
    from evo_mt.runtime.text.exported import ExportedTranslator

    model = Path(model)
    search = dict(nbest=nbest, workers=workers, threads=threads)
    if is_model_folder(model):
        fixed = (("engine", engine, (None, "onnx")), ("quantize", quantize, ("none",)))
        fixed += (("checkpoint", checkpoint, (None,)),)
        for option, value, allowed in fixed:
            if value not in allowed:
                raise OptionError(option, "does not apply to an exported folder (it was fixed at export)")
        if device not in (None, "auto", "cpu"):
            raise OptionError("device", f"{device}: an exported folder runs on the CPU")
        translator: TextTranslator = ExportedTranslator.load(model, beam=beam, lenpen=lenpen, **search)
        return translator.with_split(split)

    from evo_mt.export.run_cache import run_engine, run_export
    from evo_mt.pipeline.decoding_defaults import decoding_settings
    from evo_mt.pipeline.run_folder import Run, find_checkpoint

    if checkpoint is None:
        run, found = find_checkpoint(model)
    else:
        run = Run(model.resolve())
        found = run.checkpoint(checkpoint)
    decoding = decoding_settings(run.root, beam=beam, lenpen=lenpen)
    engine = engine or run_engine(run, device)
    if engine == "onnx":
        if device not in (None, "auto", "cpu"):
            raise OptionError("device", f"{device}: --engine onnx runs on the CPU; use --engine lean")
        translator = ExportedTranslator(
            run_export(run, found, quantize=quantize), beam=decoding.beam, lenpen=decoding.lenpen, **search
        )
        return translator.with_split(split)
    for option, value in (("workers", workers), ("threads", threads)):
        if value is not None:
            raise OptionError(option, f"applies to ONNX Runtime (--engine onnx), not --engine {engine}")
    from evo_mt.pipeline.translation import Translator

    translator = Translator(
        found, sentencepiece=run.sentencepiece, dictionaries=run.data_bin, run=run, beam=decoding.beam,
        nbest=nbest, lenpen=decoding.lenpen, device=device, engine=engine, quantize=quantize,
    )
    return translator.with_split(split)
