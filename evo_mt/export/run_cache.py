"""A run's checkpoint exported once into the run folder, so that `evo-mt translate RUN` and
`evo-mt serve RUN` run on ONNX Runtime, as fast as an exported folder.

    <run>/exported/
      checkpoint_best-<sha256[:16]>/        an exported folder (evo_mt.runtime.model.folder)
      checkpoint_best-<sha256[:16]>-int8/   the same, int8
      checkpoint_best.json                  the checkpoint's size, mtime and sha256

The folder is named after its checkpoint's content, so a changed checkpoint (retrained,
averaged again) gets a new export and the stale one is removed. Hashing a large checkpoint
costs more than a one-line translation, so the sha256 is reused while the file's size and
modification time stay those it was computed for. An export is written under a scratch
name and renamed whole (evo_mt.runtime.base.files): concurrent commands each export, the
last rename wins, and no reader ever sees half a folder. Only this path imports torch (to
export), and only when the export is missing or stale.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Dict

from evo_mt.pipeline.run_folder import Run, find_checkpoint
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_file, digest
from evo_mt.runtime.model.folder import ModelFolder, ModelFolderError, open_folder

CACHE = "exported"


def cached_export(run_or_checkpoint: Path | str, *, quantize: str = "none") -> Path:
    """The exported folder of a run's default checkpoint (or of a checkpoint in a run),
    exported now if there is none for that checkpoint's content yet."""
    return cached_model(run_or_checkpoint, quantize=quantize).root


def cached_model(run_or_checkpoint: Path | str, *, quantize: str = "none") -> ModelFolder:
    """`cached_export`'s folder, opened: verified once, for the caller to load as it is."""
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    return run_export(run, checkpoint, quantize=quantize)


def run_export(run: Run, checkpoint: Path, *, quantize: str = "none") -> ModelFolder:
    """`cached_model` of a run and a checkpoint already found (evo_mt.pipeline.run_folder.
    find_checkpoint)."""
    run.recipe()  # a clear error when this is not a run folder
    cache = run.root / CACHE
    try:
        checksum = _checkpoint_sha256(checkpoint, cache)
        suffix = "" if quantize == "none" else f"-{quantize}"
        folder = cache / f"{checkpoint.stem}-{checksum[:16]}{suffix}"
        opened = _opened(folder, checksum)
        if opened is None:
            _export(checkpoint, folder, quantize)
            opened = open_folder(folder)
    except OSError as error:
        raise UserError(
            f"{cache}: cannot write the run's export there ({error.strerror or error}); "
            "translate with --engine lean"
        ) from None
    for stale in cache.glob(f"{checkpoint.stem}-*{suffix}"):
        if stale != folder and stale.is_dir() and stale.name.count("-") == folder.name.count("-"):
            shutil.rmtree(stale, ignore_errors=True)
    return opened


def is_writable(run_or_checkpoint: Path | str) -> bool:
    """Whether the run folder can hold its export (a read-only run is translated as it is)."""
    return _writable(find_checkpoint(run_or_checkpoint)[0])


def _writable(run: Run) -> bool:
    cache = run.root / CACHE
    if cache.is_dir():
        return os.access(cache, os.W_OK)
    return not cache.exists() and os.access(run.root, os.W_OK)


def _checkpoint_sha256(checkpoint: Path, cache: Path) -> str:
    stamp_file = cache / f"{checkpoint.stem}.json"
    info = checkpoint.stat()
    now = {"bytes": info.st_size, "mtime_ns": info.st_mtime_ns}
    try:
        stamp: Dict = json.loads(stamp_file.read_text(encoding="utf-8"))
        if {key: stamp.get(key) for key in now} == now and isinstance(stamp.get("sha256"), str):
            return stamp["sha256"]
    except (OSError, ValueError):
        pass
    found = digest(checkpoint)
    cache.mkdir(exist_ok=True)
    with atomic_file(stamp_file) as scratch:
        scratch.write_text(json.dumps({**now, "sha256": found}) + "\n", encoding="utf-8")
    return found


def _opened(folder: Path, checksum: str) -> ModelFolder | None:
    """`folder` opened if it is a sound export of the checkpoint with this sha256, in this
    evo-mt's format (another version's export is redone); else None."""
    if not folder.is_dir():
        return None
    try:
        opened = open_folder(folder)
        return opened if opened.manifest["checkpoint"]["sha256"] == checksum else None
    except (ModelFolderError, KeyError, TypeError):
        return None


def _export(checkpoint: Path, folder: Path, quantize: str) -> None:
    from evo_mt.export.exporter import export

    # Written whole, then renamed over an unsound folder or one of another format version.
    export(checkpoint, folder, quantize=quantize, force=True)


def default_engine(run_or_checkpoint: Path | str, device: str | None) -> str:
    """The engine `translate RUN` and `serve RUN` use when none is named: "onnx" (the cached
    export) on a CPU, "lean" where a GPU is to be used or the run folder cannot hold an export.

    Whether a GPU is present is read from the NVIDIA driver's listing rather than torch's, so
    that the CPU path never imports torch."""
    return run_engine(find_checkpoint(run_or_checkpoint)[0], device)


def run_engine(run: Run, device: str | None) -> str:
    """`default_engine` of a run already found."""
    gpus = Path("/proc/driver/nvidia/gpus")
    gpu = device == "cuda" or (device in (None, "auto") and gpus.is_dir() and any(gpus.iterdir()))
    return "lean" if gpu or not _writable(run) else "onnx"
