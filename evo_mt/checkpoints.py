"""Loading checkpoints safely: torch's ``weights_only=True`` plus an explicit allowlist.

fairseq 0.12 checkpoints pickle the training configuration. Besides tensors and plain
containers (which torch allows by itself) they hold the model's ``argparse.Namespace``
and, when training computed validation BLEU (--eval-bleu), fairseq's BLEU counters as numpy
arrays of integers; that is the whole allowlist. Anything else (a pickle that calls
``os.system``, say) is refused before any of it runs.
"""

import argparse
import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np
import torch

from evo_mt.runtime.base.errors import CheckpointError

# numpy's array rebuilding only restores shape, dtype and raw bytes; an array of Python
# objects would need further globals, which stay refused.
SAFE_GLOBALS: List[Any] = [
    argparse.Namespace, np.ndarray, np.dtype, np._core.multiarray._reconstruct, type(np.dtype(np.int64)),
]


def allow_checkpoint_globals() -> None:
    """Let ``torch.load(weights_only=True)`` rebuild what fairseq checkpoints contain."""
    torch.serialization.add_safe_globals(SAFE_GLOBALS)


def _looks_saved_by_torch(path: Union[str, Path]) -> bool:
    """Whether the file starts as torch.save's files do: a zip archive, or (older) a pickle."""
    try:
        with open(path, "rb") as f:
            start = f.read(4)
    except OSError:
        return False
    return start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"


def explain_load_error(path: Union[str, Path], error: BaseException) -> CheckpointError:
    """Turn torch's error for an unloadable checkpoint into one clear line."""
    if isinstance(error, pickle.UnpicklingError):
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:  # an unreadable archive: say what we know
            unsafe = []
        named = ", ".join(unsafe) or "objects"
        return CheckpointError(
            f"{path}: refused: it holds {named}, which evo-mt does not load from checkpoints "
            "(only tensors, numeric arrays, plain containers and argparse.Namespace); nothing in it was run"
        )
    if isinstance(error, OSError) and error.strerror:
        return CheckpointError(f"{path}: cannot read the checkpoint: {error.strerror}")
    return CheckpointError(f"{path}: not a complete checkpoint (truncated or corrupt)")


def is_load_error(error: BaseException) -> bool:
    """Whether `error` is torch failing to read the file, rather than a bug elsewhere."""
    if isinstance(error, (pickle.UnpicklingError, EOFError, zipfile.BadZipFile)):
        return True
    return isinstance(error, RuntimeError) and "PytorchStreamReader" in str(error)


def read_checkpoint(path: Union[str, Path], *, mapped: bool = False) -> Dict[str, Any]:
    """Load a checkpoint onto the CPU with ``weights_only=True``; `CheckpointError` if unsafe or broken.

    `mapped`: the tensors are mapped from the file, not read (torch's mmap), so that reading
    a checkpoint's small entries costs next to nothing however large its weights are.
    """
    allow_checkpoint_globals()
    if Path(path).is_file() and not _looks_saved_by_torch(path):
        raise CheckpointError(f"{path}: not a checkpoint (not a file saved by PyTorch)")
    # Only torch's zip format can be mapped; a checkpoint in its older format is read whole.
    mmap = mapped and zipfile.is_zipfile(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:
        if isinstance(error, OSError) or is_load_error(error):
            raise explain_load_error(path, error) from error
        raise
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a fairseq checkpoint (no model weights in it)")
    return state


def updates_in(state: Dict[str, Any]) -> int | None:
    """The number of updates a checkpoint's training had done when it was saved: fairseq keeps
    it in the last entry of optimizer_history (None: not saved by fairseq-train)."""
    try:
        return int(state["optimizer_history"][-1]["num_updates"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def saved_updates(path: Union[str, Path]) -> int | None:
    """`updates_in` of the checkpoint at `path`, its tensors mapped rather than read."""
    return updates_in(read_checkpoint(path, mapped=True))
