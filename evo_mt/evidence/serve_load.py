"""`evo-mt bench serve` and `bench cache`: a real `evo-mt serve` process under load from
concurrent clients.

The server runs as its own process on 127.0.0.1 (a free port); N clients send the file's lines
in requests of a few lines each, every client one request at a time. Reported: lines/s,
request latency percentiles, the server's peak memory, the latency of one request on the idle
server next to `Translator.translate` on the same lines in this process (what `evo-mt
translate` runs once started), and `evo-mt translate` as a whole process on the same file.
"""

import asyncio
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Sequence

import httpx
import torch

from evo_mt.evidence.translate_speed import evo_mt_translate, run_process
from evo_mt.pipeline.run_folder import find_checkpoint
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.lines import file_lines

START_TIMEOUT_S = 300
READY_MARK = " on http://"


class ServerProcess:
    """`evo-mt serve` in a child process on a free port of 127.0.0.1; a context manager.

    Leaving the block sends SIGTERM and waits: `returncode` then holds the exit status.
    """

    def __init__(self, run_or_checkpoint: Path, *options: str, env: Dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "evo_mt_cli.app", "serve", str(run_or_checkpoint)]
        self.command = [*command, "--host", "127.0.0.1", "--port", "0", *options]
        self.env = env
        self.stderr: List[str] = []
        self.url = ""
        self.returncode: int | None = None
        self.terminated = False

    def __enter__(self) -> "ServerProcess":
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=self.env,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stderr, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.url:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise UserError(f"evo-mt serve did not start: {''.join(self.stderr[-5:]).strip()}")
            if READY_MARK in line:
                self.url = "http://" + line.split(READY_MARK, 1)[1].strip()
        return self

    def _read_stderr(self, lines: "queue.Queue[str | None]") -> None:
        for line in self.process.stderr:
            self.stderr.append(line)
            lines.put(line)
        lines.put(None)

    def terminate(self) -> None:
        """SIGTERM: the server stops accepting, answers what is in flight, exits."""
        self.process.send_signal(signal.SIGTERM)
        self.terminated = True

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM unless sent already (a second one, while the server still shuts down,
        would end it at once: exit status -15), then wait for the exit status."""
        if self.process.poll() is None and not self.terminated:
            self.terminate()
        try:
            self.returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.returncode = self.process.wait()
        return self.returncode

    def __exit__(self, *_exc) -> None:
        self.stop()


def serve_load(
    run_or_checkpoint: Path,
    lines_file: Path,
    *,
    clients: int = 8,
    beam: int = 5,
    request_lines: int = 10,
    time_limit_s: float = 600,
) -> Dict:
    """Throughput and latency of `evo-mt serve` under `clients` concurrent clients."""
    if clients < 1:
        raise OptionError("clients", f"must be at least 1, not {clients}")
    if request_lines < 1:
        raise OptionError("request_lines", f"must be at least 1, not {request_lines}")
    _run, checkpoint = find_checkpoint(run_or_checkpoint)
    lines = list(file_lines(lines_file))
    if not lines:
        raise OptionError("input", f"{lines_file}: no lines to translate")
    requests = [lines[i : i + request_lines] for i in range(0, len(lines), request_lines)]
    # Without the translation cache: the idle comparison sends one request again and again,
    # and what is measured is decoding.
    with ServerProcess(checkpoint, "--beam", str(beam), "--cache-size", "0") as server:
        idle = _idle_comparison(server.url, Translator.load(checkpoint, beam=beam, device="cpu"), requests[0])
        start = time.perf_counter()
        latencies = asyncio.run(_load(server.url, requests, clients, time_limit_s))
        elapsed = time.perf_counter() - start
        memory = httpx.get(f"{server.url}/health", timeout=30).json()
    translated = sum(len(requests[i]) for i, _ in latencies)
    process_s, startup_s = _translate_process(checkpoint, lines_file, beam)
    ordered = sorted(latency for _, latency in latencies)
    return {
        "torch_threads": torch.get_num_threads(),  # per process; OMP_NUM_THREADS sets it for all
        "lines": translated,
        "requests": len(latencies),
        "clients": clients,
        "beam": beam,
        "request_lines": request_lines,
        "lines_per_s": translated / elapsed,
        "latency_s": {f"p{q}": _percentile(ordered, q) for q in (50, 95, 99)},
        "server_peak_memory_mib": memory["peak_rss_mib"],
        "batches": memory["batches"],
        "idle_request": {"lines": len(requests[0]), **idle},
        "evo_mt_translate": {
            "lines_per_s": len(lines) / process_s,
            "seconds": process_s,
            "startup_s": startup_s,
            "lines_per_s_after_startup": len(lines) / max(process_s - startup_s, 1e-9),
        },
    }


async def _load(url: str, requests: Sequence[List[str]], clients: int, time_limit_s: float):
    """(request index, latency) of every request, sent by `clients` clients in turn."""
    todo = iter(range(len(requests)))
    done: List[tuple] = []

    async def client(http: httpx.AsyncClient) -> None:
        for i in todo:
            start = time.perf_counter()
            response = await http.post(f"{url}/translate", json={"text": requests[i]})
            latency = time.perf_counter() - start
            if response.status_code != 200 or len(response.json()["translations"]) != len(requests[i]):
                raise UserError(f"request {i} failed: {response.status_code} {response.text[:200]}")
            done.append((i, latency))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=time_limit_s, limits=limits) as http:
        try:
            await asyncio.wait_for(asyncio.gather(*(client(http) for _ in range(clients))), time_limit_s)
        except asyncio.TimeoutError:
            pass  # bounded in time: what was answered until then counts
    return done


def cache_effect(
    model: Path, lines_file: Path, *, copies: int = 5, clients: int = 8, request_lines: int = 10
) -> Dict:
    """The translation cache on repeated text: the file's lines `copies` times over (UI
    strings, page chrome, subtitles come back), sent by `clients` clients to one server
    without the cache and one with it, in turn, each started afresh. Outputs must be the same."""
    lines = list(file_lines(lines_file))
    if not lines:
        raise OptionError("input", f"{lines_file}: no lines to translate")
    repeated = [line for _ in range(copies) for line in lines]
    requests = [repeated[i : i + request_lines] for i in range(0, len(repeated), request_lines)]
    report: Dict = {"lines": len(repeated), "distinct_lines": len(set(lines)), "clients": clients}
    answers = {}
    for name, size in (("without_cache", "0"), ("with_cache", str(len(repeated)))):
        with ServerProcess(model, "--cache-size", size) as server:
            start = time.perf_counter()
            done = asyncio.run(_load(server.url, requests, clients, time_limit_s=600))
            elapsed = time.perf_counter() - start
            health = httpx.get(f"{server.url}/health", timeout=30).json()
            with httpx.Client(timeout=300) as http:
                answer = http.post(f"{server.url}/translate", json={"text": lines})
                answers[name] = answer.json()["translations"]
        report[name] = {
            "lines_per_s": sum(len(requests[i]) for i, _ in done) / elapsed,
            "sentences_decoded": health["sentences"],
            "cache_hits": health["cache_hits"],
        }
    report["speedup"] = report["with_cache"]["lines_per_s"] / report["without_cache"]["lines_per_s"]
    report["identical_outputs"] = answers["with_cache"] == answers["without_cache"]
    return report


def served_memory(models: Sequence[Path]) -> Dict:
    """The resident memory of one `evo-mt serve` of `models` (one per pair): once started,
    and after one request of each pair (which allocates the sessions' buffers)."""
    with ServerProcess(models[0], *map(str, models[1:])) as server:
        started = httpx.get(f"{server.url}/health", timeout=30).json()["rss_mib"]
        info = httpx.get(f"{server.url}/info", timeout=30).json()
        with httpx.Client(timeout=300) as http:
            for model in info["models"]:
                pair = {"source": model["source_language"], "target": model["target_language"]}
                http.post(f"{server.url}/translate", json={"text": ["a test ."], **pair}).raise_for_status()
        health = httpx.get(f"{server.url}/health", timeout=30).json()
    return {
        "models": len(info["models"]),
        "started_rss_mib": started,
        "rss_mib": health["rss_mib"],
        "peak_rss_mib": health["peak_rss_mib"],
    }


def _idle_comparison(url: str, translator: Translator, lines: List[str], repeats: int = 7) -> Dict:
    """Median seconds of one request on the idle server and of `Translator.translate` on the
    same lines, taken in turns so that both see the same load on a shared machine."""
    times: Dict[str, List[float]] = {"serve_s": [], "translator_s": []}
    with httpx.Client(timeout=300) as http:
        for repeat in range(repeats + 1):  # the first turn warms both up
            start = time.perf_counter()
            http.post(f"{url}/translate", json={"text": lines}).raise_for_status()
            middle = time.perf_counter()
            translator.translate(lines)
            if repeat:
                times["serve_s"].append(middle - start)
                times["translator_s"].append(time.perf_counter() - middle)
    return {name: statistics.median(values) for name, values in times.items()}


def _translate_process(checkpoint: Path, lines_file: Path, beam: int) -> tuple:
    """Seconds of `evo-mt translate` on the file, and on no input (its start-up)."""
    command = evo_mt_translate(checkpoint, beam)
    return tuple(
        run_process("evo-mt translate", command, source).seconds for source in (lines_file, os.devnull)
    )


def _percentile(ordered: List[float], q: int) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


def summary(report: Dict) -> str:
    """The figures as `evo-mt bench --serve` prints them."""
    latency = report["latency_s"]
    idle = report["idle_request"]
    translate = report["evo_mt_translate"]
    return "\n".join(
        [
            f"evo-mt serve: {report['lines']} lines in {report['requests']} requests of up to "
            f"{report['request_lines']} lines from {report['clients']} clients, beam {report['beam']}: "
            f"{report['lines_per_s']:.1f} lines/s in {report['batches']} batches",
            f"  latency p50 {latency['p50']:.3f} s, p95 {latency['p95']:.3f} s, p99 {latency['p99']:.3f} s; "
            f"server peak memory {report['server_peak_memory_mib']:.0f} MiB",
            f"  one request of {idle['lines']} lines on the idle server: {idle['serve_s']:.3f} s; "
            f"Translator.translate on them: {idle['translator_s']:.3f} s "
            f"({idle['serve_s'] / idle['translator_s']:.2f}x)",
            f"evo-mt translate on the same file: {translate['lines_per_s']:.1f} lines/s as a whole process "
            f"({translate['seconds']:.1f} s, of which start-up {translate['startup_s']:.1f} s; "
            f"{translate['lines_per_s_after_startup']:.1f} lines/s after start-up)",
        ]
    )
