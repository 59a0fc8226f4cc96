"""Narrow fixes to fairseq 0.12 (with torch >= 2.6), applied by evo-mt's own commands.

Importing the plugin (`--user-dir evo_mt`) applies none of 1-3: they change fairseq for
everything it runs, so evo-mt applies them where it runs fairseq itself (`evo-mt train`, the
fairseq engine, fairseq-interactive in benchmarks), and a user of fairseq's own commands opts
in with EVO_MT_FAIRSEQ_FIXES=1. Fix 4 concerns only the plugin's own model configuration and
is installed when the model registers (`install_config_fix`).

1. Checkpoints: torch >= 2.6 loads with ``weights_only=True`` and fairseq's checkpoints hold
   an ``argparse.Namespace``; it is allowlisted (never the whole unpickler). A checkpoint
   that cannot be loaded raises `CheckpointError`, whose message says why in one line.
2. Evaluation batches: ``data_utils.batch_by_size`` drops the last batch when its size is
   not a multiple of ``--required-batch-size-multiple`` (fairseq issues #5036, #5351), so
   ``fairseq-generate`` silently scores fewer sentences than the test set holds. Outside
   training, that batch is now kept; training batches stay exactly as fairseq makes them.
3. Checkpoint copies: fairseq saves one checkpoint atomically (temporary file, then rename)
   but copies it to checkpoint_last.pt / checkpoint_best.pt in place, so a run killed
   during the copy leaves a truncated checkpoint_last.pt and cannot resume. Copies of
   local files now go through a temporary file and a rename too.
4. Nested model configs from flat options: with a model registered with its dataclass,
   fairseq turns ``--arch`` command lines into that dataclass, but cannot fill
   TransformerConfig's nested ``encoder``/``decoder``/``quant_noise`` fields from the flat
   ``--encoder-embed-dim`` style options (it writes the class itself as the value). They are
   now filled the way ``TransformerConfig.from_namespace`` reads them.
"""

import contextvars
import functools
import logging
import os
import shutil
from argparse import Namespace
from dataclasses import fields, is_dataclass
from typing import Any, Callable, List

import fairseq
import numpy as np
from fairseq import checkpoint_utils
from fairseq.data import data_utils
from fairseq.dataclass import utils as dataclass_utils
from fairseq.file_io import PathManager
from fairseq.trainer import Trainer

from evo_mt.checkpoints import (
    allow_checkpoint_globals,
    explain_load_error,
    is_load_error,
)

_building_train_batches = contextvars.ContextVar("evo_mt_building_train_batches", default=False)


def _keeping_last_batch(batch_by_size: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(batch_by_size)
    def wrapper(indices, *args: Any, **kwargs: Any):
        indices = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices), dtype=np.int64)
        batches = batch_by_size(indices, *args, **kwargs)
        if _building_train_batches.get():
            return batches
        # Batches are consecutive runs of `indices`, so what was dropped is the tail.
        covered = sum(len(batch) for batch in batches)
        if covered < len(indices):
            batches = list(batches) + [indices[covered:]]
        return batches

    return wrapper


def _as_training(build: Callable[..., Any]) -> Callable[..., Any]:
    """`build` makes training batches: fairseq's batch_by_size is left as it is inside it."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any):
        token = _building_train_batches.set(True)
        try:
            built = build(*args, **kwargs)
        finally:
            _building_train_batches.reset(token)
        # With --rebuild-batches the iterator keeps a function that makes each epoch's
        # batches later, outside this call: it is marked as training too.
        sampler = getattr(built, "batch_sampler", None)
        if callable(sampler) and not getattr(sampler, "evo_mt_training", False):
            built.batch_sampler = _as_training(sampler)
            built.batch_sampler.evo_mt_training = True
        return built

    return wrapper


def _explaining_load_errors(load_checkpoint_to_cpu: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(load_checkpoint_to_cpu)
    def wrapper(path: str, *args: Any, **kwargs: Any):
        try:
            return load_checkpoint_to_cpu(path, *args, **kwargs)
        except Exception as error:
            if is_load_error(error):
                raise explain_load_error(path, error) from error
            raise

    return wrapper


def _copying_atomically(copy: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(copy)
    def wrapper(src_path: str, dst_path: str, overwrite: bool = False) -> Any:
        if PathManager.path_requires_pathmanager(dst_path):  # remote storage: fairseq's own copy
            return copy(src_path, dst_path, overwrite)
        if not overwrite and os.path.exists(dst_path):
            return False  # what fairseq's local copy does: an existing file stays
        scratch = f"{dst_path}.copying"
        with open(src_path, "rb") as source, open(scratch, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
            target.flush()
            # On disk before the rename, so that a crash cannot leave a renamed empty file.
            os.fsync(target.fileno())
        os.replace(scratch, dst_path)
        return True

    return wrapper


def _filling_nested_configs(
    override_attr: Callable[..., List[str]], owned: type
) -> Callable[..., List[str]]:
    @functools.wraps(override_attr)
    def wrapper(sub_node: str, data_class: Any, args: Namespace) -> List[str]:
        overrides = override_attr(sub_node, data_class, args)
        if not (isinstance(data_class, type) and issubclass(data_class, owned)):
            return overrides
        for nested in fields(data_class):
            part = nested.default
            if not (isinstance(part, type) and is_dataclass(part)):
                continue
            overrides = [o for o in overrides if not o.startswith(f"{sub_node}.{nested.name}=")]
            flat = {}
            for option in fields(part):
                for name in (f"{nested.name}_{option.name}", option.name):
                    if hasattr(args, name):
                        flat[option.name] = getattr(args, name)
            overrides += override_attr(f"{sub_node}.{nested.name}", part, Namespace(**flat))
        return overrides

    return wrapper


# The fixes replace fairseq functions by wrappers that assume their signatures and behaviour.
FAIRSEQ_VERSION = "0.12.3.1"
OPT_IN = "EVO_MT_FAIRSEQ_FIXES"
logger = logging.getLogger(__name__)


def version_warning(version: str) -> str | None:
    """What to say when the installed fairseq is not the one the fixes were written for."""
    if version == FAIRSEQ_VERSION:
        return None
    return (
        f"evo_mt's fairseq fixes are written for fairseq-fixed {FAIRSEQ_VERSION} (known to work); "
        f"fairseq {version} may differ in the functions they wrap"
    )


def install_config_fix(owned: type) -> None:
    """Fix 4, for the plugin's own dataclass `owned`; installed once."""
    if getattr(dataclass_utils._override_attr, "__wrapped__", None) is None:
        dataclass_utils._override_attr = _filling_nested_configs(dataclass_utils._override_attr, owned)


def apply() -> None:
    """Apply fixes 1-3 once; later calls change nothing. Warns on a fairseq it was not written for."""
    if getattr(data_utils.batch_by_size, "__wrapped__", None) is not None:
        return
    warning = version_warning(fairseq.__version__)
    if warning:
        logger.warning(warning)
    allow_checkpoint_globals()
    data_utils.batch_by_size = _keeping_last_batch(data_utils.batch_by_size)
    Trainer.get_train_iterator = _as_training(Trainer.get_train_iterator)
    checkpoint_utils.load_checkpoint_to_cpu = _explaining_load_errors(checkpoint_utils.load_checkpoint_to_cpu)
    PathManager.copy = staticmethod(_copying_atomically(PathManager.copy))


def opted_in() -> bool:
    """Whether the user asked fairseq's own commands to run with the fixes."""
    return os.environ.get(OPT_IN, "") not in ("", "0")
