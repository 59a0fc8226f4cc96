"""The translator a command line names: an exported folder (the runtime alone) or a run or
checkpoint (the lab's engines), with the model's own decoding settings unless told otherwise."""

from pathlib import Path

from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.text import TextTranslator


def load_translator(
    path: Path, *, beam: int | None, lenpen: float | None, device: str | None, engine: str | None,
    quantize: str, nbest: int = 1, workers: int | None = None, threads: int | None = None,
) -> TextTranslator:  # fmt: skip
    """The translator of an exported folder (ONNX Runtime; torch is never imported), or of a
    run or checkpoint: by default its export cached in the run folder (evo_mt.export.run_cache),
    else the lab's engines; `beam`, `lenpen` None: the model's own settings; `workers`,
    `threads`: ONNX Runtime's (evo_mt.runtime.onnx_model.thread_layout)."""
    from evo_mt.runtime.model_folder import is_model_folder

    if is_model_folder(path):
        from evo_mt.runtime.translator import ExportedTranslator

        for option, value, allowed in (("engine", engine, (None, "onnx")), ("quantize", quantize, ("none",))):
            if value not in allowed:
                raise OptionError(option, "does not apply to an exported folder (it was fixed at export)")
        if device not in (None, "auto", "cpu"):
            raise OptionError("device", f"{device}: an exported folder runs on the CPU")
        return ExportedTranslator.load(
            path, beam=beam, nbest=nbest, lenpen=lenpen, workers=workers, threads=threads
        )
    from evo_mt.export.run_cache import cached_model, default_engine
    from evo_mt.pipeline.decoding_defaults import decoding_settings

    decoding = decoding_settings(path, beam=beam, lenpen=lenpen)
    if engine is None:
        engine = default_engine(path, device)
    if engine == "onnx":
        from evo_mt.runtime.translator import ExportedTranslator

        if device not in (None, "auto", "cpu"):
            raise OptionError("device", f"{device}: --engine onnx runs on the CPU; use --engine lean")
        return ExportedTranslator(
            cached_model(path, quantize=quantize), beam=decoding.beam, nbest=nbest, lenpen=decoding.lenpen,
            workers=workers, threads=threads,
        )  # fmt: skip
    for option, value in (("workers", workers), ("threads", threads)):
        if value is not None:
            raise OptionError(option, f"applies to ONNX Runtime (--engine onnx), not --engine {engine}")
    from evo_mt.pipeline.translation import Translator

    return Translator.load(
        path, beam=decoding.beam, nbest=nbest, lenpen=decoding.lenpen, device=device, engine=engine,
        quantize=quantize,
    )  # fmt: skip
