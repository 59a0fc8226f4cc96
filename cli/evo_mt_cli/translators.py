"""The translator a command line names: an exported folder (the runtime alone) or a run or
checkpoint (the lab's engines), with the model's own decoding settings unless told otherwise."""

from pathlib import Path

from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.text import TextTranslator


def load_translator(
    path: Path, *, beam: int | None, lenpen: float | None, device: str | None, engine: str, quantize: str,
    nbest: int = 1,
) -> TextTranslator:  # fmt: skip
    """The translator of an exported folder (ONNX Runtime; torch is never imported), or of a
    run or checkpoint (the lab's engines); `beam`, `lenpen` None: the model's own settings."""
    from evo_mt.runtime.model_folder import is_model_folder

    if is_model_folder(path):
        from evo_mt.runtime.translator import ExportedTranslator

        for option, value, default in (("engine", engine, "lean"), ("quantize", quantize, "none")):
            if value != default:
                raise OptionError(option, "does not apply to an exported folder (it was fixed at export)")
        if device not in (None, "auto", "cpu"):
            raise OptionError("device", f"{device}: an exported folder runs on the CPU")
        return ExportedTranslator.load(path, beam=beam, nbest=nbest, lenpen=lenpen)
    from evo_mt.pipeline.decoding_defaults import decoding_settings
    from evo_mt.pipeline.translation import Translator

    decoding = decoding_settings(path, beam=beam, lenpen=lenpen)
    return Translator.load(
        path, beam=decoding.beam, nbest=nbest, lenpen=decoding.lenpen, device=device, engine=engine,
        quantize=quantize,
    )  # fmt: skip
