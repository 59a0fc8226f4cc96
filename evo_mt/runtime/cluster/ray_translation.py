"""An exported folder translating on Ray Data: a local Ray instance, or the cluster that
`address` (else RAY_ADDRESS) names.

    from evo_mt.runtime.cluster.ray_translation import translate_on_ray
    for output in translate_on_ray("toy-model", lines, workers=2):
        print(output)   # each line's output, as `evo-mt translate` writes it, in input order

The lines go to Ray Data as a dataset of (number, line) rows; a pool of `workers` Ray actors
(a callable class given to `map_batches`) each opens the folder once and translates batches
of consecutive lines with the runtime's one pipeline (evo_mt.runtime.text.stream, as
`evo-mt translate` does); the outputs come back in input order. Ray is imported here only,
when a translation runs: the rest of the runtime never needs it.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.model.folder import open_folder
from evo_mt.runtime.search.decoding import DecodingSettings, check_search
from evo_mt.runtime.text.batching import BATCH_SIZE, check_batching
from evo_mt.runtime.text.stream import READ_AHEAD, translate_stream

INSTALL = "pip install 'evo-mt[cluster]'"
CONNECT_TIMEOUT_S = 10


class LineTranslator:
    """One Ray actor's translator: the folder opened once, then batches of lines translated
    (a batch: Ray Data's columns `number` and `line`; back: `number` and `output`)."""

    def __init__(self, folder: str, options: Dict[str, Any], split: bool, batch_size: int, json_lines: bool):
        from evo_mt.runtime.text.exported import ExportedTranslator

        self.translator = ExportedTranslator.load(folder, **options).with_split(split)
        self.batch_size = batch_size
        self.json_lines = json_lines

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        import numpy as np

        found = translate_stream(
            self.translator, [str(line) for line in batch["line"]], batch_size=self.batch_size,
            json_lines=self.json_lines,
        )
        outputs = ["\t".join(fields) for fields in found]
        return {"number": batch["number"], "output": np.array(outputs, dtype=object)}


def translate_on_ray(
    folder: Path | str,
    lines: Sequence[str],
    *,
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    lines_per_task: int | None = None,
    beam: int | None = None,
    nbest: int = 1,
    lenpen: float | None = None,
    split: bool = True,
    batch_size: int = BATCH_SIZE,
    json_lines: bool = False,
) -> Iterator[str]:
    """Each line's output (its n best translations tab-separated, or with `json_lines` one
    JSON object), in input order, translated by `workers` Ray actors of `threads` ONNX Runtime
    threads each (default: as many as the cluster's CPUs allow).

    `folder` must be at the same path on every node. `address`: the cluster (None: the one
    RAY_ADDRESS names, else a local Ray instance started here and stopped at the end);
    `lines_per_task`: consecutive lines an actor translates at once (default: enough for
    every actor to get several batches, at most `evo-mt translate`'s read-ahead)."""
    check_batching(batch_size)
    for option, value in (("workers", workers), ("threads", threads), ("lines_per_task", lines_per_task)):
        if value is not None and value < 1:
            raise OptionError(option, f"must be at least 1, not {value}")
    folder = Path(folder).resolve()
    # A missing or damaged folder, or a beam it cannot search with, is told before Ray starts
    # (without loading the model here: the workers do).
    opened = open_folder(folder)
    check_search(DecodingSettings(**opened.decoding).beam if beam is None else beam, nbest)
    options = dict(beam=beam, nbest=nbest, lenpen=lenpen, workers=1, threads=threads)
    if not lines:
        return
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        address = address or os.environ.get("RAY_ADDRESS") or None
        _check_reachable(address)
        try:
            ray.init(
                address=address, logging_level=logging.WARNING, log_to_driver=False, include_dashboard=False
            )
        except (ConnectionError, ValueError) as error:  # no cluster at that address
            raise UserError(f"Ray: {_last_line(error)}") from None
    try:
        yield from _translated(ray, str(folder), options, list(lines), workers, threads, lines_per_task,
                               split=split, batch_size=batch_size, json_lines=json_lines)
    except ray.exceptions.RayError as error:  # a worker's error, after Ray's own retries
        raise UserError(f"the translation on Ray failed: {_last_line(error)}") from None
    finally:
        if started:
            ray.shutdown()


def _translated(ray, folder: str, options: Dict[str, Any], lines: List[str], workers: int | None,
                threads: int, lines_per_task: int | None, **translating: Any) -> Iterator[str]:
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its progress reports would fill stderr
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
    if lines_per_task is None:
        lines_per_task = max(1, min(READ_AHEAD, -(-len(lines) // (4 * workers))))
    rows = [{"number": number, "line": line} for number, line in enumerate(lines)]
    dataset = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // lines_per_task))
    translated = dataset.map_batches(
        LineTranslator,
        fn_constructor_args=(folder, options),
        fn_constructor_kwargs=translating,
        batch_size=lines_per_task,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads,
    )
    expected = 0
    for batch in translated.iter_batches(batch_format="numpy", batch_size=None):
        for number, output in zip(batch["number"], batch["output"], strict=True):
            if int(number) != expected:  # preserve_order keeps them; a change in Ray must not go unseen
                raise RuntimeError(f"Ray gave line {int(number)} where line {expected} was due")
            expected += 1
            yield str(output)


def _check_reachable(address: str | None) -> None:
    """Refuse a HOST:PORT no Ray head answers at: Ray itself would wait on it for ever."""
    if address is None or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"Ray address {address!r}: expected HOST:PORT (the head node's, e.g. 10.0.0.1:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(f"no Ray cluster answers at {address}: {error.strerror or error}") from None


def _last_line(error: Exception) -> str:
    """What went wrong, without Ray's tracebacks around it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError(f"translating on Ray needs Ray: {INSTALL}") from None
    return ray
