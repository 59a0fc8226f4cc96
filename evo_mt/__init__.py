"""evo-mt: machine translation with the Evolving Attention Transformer.

Layers, bottom to top; each imports only from the layers below it (an import-linter
contract in pyproject.toml, checked by `make test`):

    evo_mt.runtime      what a deployment needs: the exported-model folder, beam search,
                        translation and serving on ONNX Runtime (no torch, no fairseq)
    evo_mt.architecture the model's rules: options and defaults, the chain plan, stored
                        configurations (no torch, no fairseq)
    evo_mt.activations  the activation functions by the names the options use (torch)
    evo_mt.checkpoints  loading checkpoints safely: weights_only and an explicit allowlist
    evo_mt.evolving_maths  the evolving-attention maths as pure tensor functions (no fairseq)
    evo_mt.models       the fairseq plugin: `--user-dir evo_mt` registers `ea_transformer` here
    evo_mt.inference    the lean engine: the same model in plain PyTorch, no fairseq
    evo_mt.pipeline     the library: recipes, run folders, corpora, prepare, train, average,
                        translate, score
    evo_mt.export       `evo-mt export`: a checkpoint as an exported-model folder
    evo_mt.translators  the translator for what a user names: exported folder, run or
                        checkpoint, and the engine that runs it
    evo_mt.evidence     what evolving attention costs and buys: benchmarks, quality
                        comparisons, attention pictures
    evo_mt_cli          the `evo-mt` command line (cli/evo_mt_cli)

The names in `__all__` are the Python API. Each is imported on first use, so that fairseq's
`--user-dir evo_mt`, which imports this package before its models/ folder, loads nothing else.

    import evo_mt
    translator = evo_mt.Translator.load("runs/toy", beam=5)
    translator.translate(["yesterday the rimo tenenulu malas the vamana sasesafo ."])
    # [['gestern namit der wirue kemulati die nonasae matumabe .']]
"""

import importlib
from typing import Any, List

__version__ = "0.1.0"

_API = {
    "UserError": "evo_mt.runtime.base.errors",
    "OptionError": "evo_mt.runtime.base.errors",
    "CheckpointError": "evo_mt.runtime.base.errors",
    "ExportedTranslator": "evo_mt.runtime.text.exported",
    "TextTranslator": "evo_mt.runtime.text.translator",
    "load_translator": "evo_mt.translators",
    "export": "evo_mt.export.exporter",
    "Recipe": "evo_mt.pipeline.recipes",
    "load_recipe": "evo_mt.pipeline.recipes",
    "Run": "evo_mt.pipeline.run_folder",
    "find_checkpoint": "evo_mt.pipeline.run_folder",
    "prepare": "evo_mt.pipeline.prepare",
    "train": "evo_mt.pipeline.training",
    "average_checkpoints": "evo_mt.pipeline.averaging",
    "average_run": "evo_mt.pipeline.averaging",
    "Translator": "evo_mt.pipeline.translation",
    "score_run": "evo_mt.pipeline.scoring",
    "score_lines": "evo_mt.pipeline.scoring",
    "score_files": "evo_mt.pipeline.scoring",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'evo_mt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> List[str]:
    return sorted({*globals(), *_API})
