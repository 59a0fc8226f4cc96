"""`evo-mt serve`: a real server process on 127.0.0.1, real HTTP clients, the toy model."""

import asyncio
import json
import random
import signal
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
import sentencepiece
from conftest import EVO_MT, evo_mt, run_command

from evo_mt.evidence.serve_load import ServerProcess
from evo_mt.pipeline.fairseq_commands import MAX_LEN_A, MAX_LEN_B
from evo_mt.pipeline.run_folder import Run

# The load test: 32 clients x 20 requests of 1-20 lines, drawn from this many test sentences.
CLIENTS, REQUESTS_PER_CLIENT, POOL = 32, 20, 200
# Resident memory of the server after the load test may exceed the one before by at most this
# (allocator caches and batches of the largest shapes seen; a leak of 6,700 lines' results
# and tensors would far exceed it).
MEMORY_GROWTH_BOUND_MIB = 150


@pytest.fixture(scope="module")
def server(toy_run, fairseq_env):
    options = ("--beam", "2", "--max-wait-ms", "20", "--max-chars", "20000")
    with ServerProcess(toy_run, *options, env=fairseq_env) as running:
        yield running
        running.process.send_signal(signal.SIGINT)  # Ctrl-C ends it as SIGTERM does
        assert running.stop() == 0, "".join(running.stderr[-20:])


@pytest.fixture(scope="module")
def slow_server(toy_run, fairseq_env):
    """Lines wait 3 s for company, and at most 10 may wait: the queue can be seen full (no
    cache: a line seen before would not wait)."""
    options = ("--beam", "1", "--max-wait-ms", "3000", "--max-queued-sentences", "10", "--max-lines", "10")
    options += ("--cache-size", "0")
    with ServerProcess(toy_run, *options, env=fairseq_env) as running:
        yield running


def translate_command(toy_run, lines, fairseq_env, *options):
    done = run_command(
        [EVO_MT, "translate", str(toy_run), *options], fairseq_env, input="\n".join(lines) + "\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("\n")[: len(lines)]


def health(url):
    response = httpx.get(f"{url}/health", timeout=30)
    return response.status_code, response.json()


def test_translations_are_those_of_evo_mt_translate(server, toy_run, fairseq_env):
    test_lines = (toy_run / "raw" / "test.en").read_text().splitlines()[:30]
    long_line = " ".join(["the rimo"] * 600)  # more subwords than the model's positions
    paragraph = "  " + "  ".join(test_lines[2:6]) + " "  # four sentences, spaced as pasted
    lines = [test_lines[0], "", *test_lines[1:], "   ", long_line, "tab\tand \x1b[31m escape \x00", paragraph]
    response = httpx.post(f"{server.url}/translate", json={"text": lines}, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["translations"] == translate_command(toy_run, lines, fairseq_env, "--beam", "2")
    # A blank line comes back as it came: empty, or its whitespace.
    assert (body["translations"][1], body["translations"][len(test_lines) + 1]) == ("", "   ")
    info = httpx.get(f"{server.url}/info", timeout=30).json()["models"][0]
    positions, longest = info["max_source_pieces"], info["sentence_pieces"]
    assert len(long_line) < 20000 and 2 * 600 > positions > longest
    assert body["warnings"] == [
        f"line {len(lines) - 3}: a sentence longer than the {longest} subwords the model reads at once; "
        "translated in pieces"
    ]
    assert len(body["translations"][-3].split()) > 600  # in pieces, not truncated
    # The paragraph is its four sentences' translations, spaced as its sentences were.
    assert body["translations"][-1] == "  " + "  ".join(body["translations"][3:7]) + " "

    response = httpx.post(
        f"{server.url}/translate", json={"text": lines[:8], "beam": 3, "nbest": 3}, timeout=300
    )
    assert response.status_code == 200, response.text
    expected = translate_command(toy_run, lines[:8], fairseq_env, "--beam", "3", "--nbest", "3")
    assert response.json()["translations"] == [line.split("\t") for line in expected]


def test_info_describes_the_model_and_the_limits(server, toy_run):
    served = httpx.get(f"{server.url}/info", timeout=30).json()
    assert len(served["models"]) == 1
    info = {**served["models"][0], "limits": served["limits"]}
    assert info["recipe"] == "toy"
    assert (info["source_language"], info["target_language"]) == ("en", "de")
    assert info["architecture"] == "ea_transformer_tiny"
    assert info["checkpoint"].endswith("checkpoint_averaged.pt")
    assert set(info["ea_options"]) >= {"ea_alpha", "ea_beta", "ea_kernel_size", "ea_activation", "ea_chains"}
    assert info["beam"] == 2 and info["limits"]["max_lines"] == 256 and info["limits"]["max_wait_ms"] == 20


def test_concurrent_clients_each_get_their_own_lines_in_order(server, toy_run, fairseq_env):
    pool = sorted((toy_run / "raw" / "test.en").read_text().splitlines(), key=len)[:POOL]
    translations = translate_command(toy_run, pool, fairseq_env, "--beam", "1")
    spm = sentencepiece.SentencePieceProcessor(model_file=str(Run(toy_run).sentencepiece))
    expected = {
        line: t for line, t in zip(pool, translations, strict=True) if not stopped_by_length_cap(spm, line, t)
    }
    pool = list(expected)
    assert len(pool) > POOL * 0.9
    rng = random.Random(11)
    plans = [
        [rng.sample(pool, rng.randint(1, 20)) for _ in range(REQUESTS_PER_CLIENT)] for _ in range(CLIENTS)
    ]
    before = health(server.url)[1]

    async def client(http, requests):
        answers = []
        for lines in requests:
            response = await http.post(f"{server.url}/translate", json={"text": lines, "beam": 1})
            answers.append((response.status_code, response.json()))
        return answers

    async def load():
        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=CLIENTS)) as http:
            return await asyncio.gather(*(client(http, requests) for requests in plans))

    results = asyncio.run(load())
    for requests, answers in zip(plans, results, strict=True):
        for lines, (status, body) in zip(requests, answers, strict=True):
            assert status == 200, body
            assert body["translations"] == [expected[line] for line in lines]
    status, after = health(server.url)
    assert status == 200 and after["queued_sentences"] == 0
    assert after["requests"] - before["requests"] == CLIENTS * REQUESTS_PER_CLIENT
    lines_sent = sum(len(lines) for requests in plans for lines in requests)
    # Each line is decoded, or answered from the cache (the pool's lines repeat).
    decoded, cached = (after[n] - before[n] for n in ("sentences", "cache_hits"))
    assert decoded + cached == lines_sent and cached > 0
    assert after["cache_misses"] - before["cache_misses"] == decoded
    # Batched across requests: far fewer batches than requests.
    assert after["batches"] - before["batches"] < CLIENTS * REQUESTS_PER_CLIENT / 2
    assert after["rss_mib"] - before["rss_mib"] < MEMORY_GROWTH_BOUND_MIB, (before, after)


def stopped_by_length_cap(spm, source, translation):
    """Whether beam search stopped at fairseq's length cap rather than at </s>.

    The cap, MAX_LEN_A x (longest source in the batch) + MAX_LEN_B, depends on the batch, so a
    translation that runs into it (the toy model loops on a few sentences) is cut at another
    length when batched with other lines, by `evo-mt translate` as by the server.
    """
    return len(spm.encode(translation)) + 1 >= MAX_LEN_A * (len(spm.encode(source)) + 1) + MAX_LEN_B - 1


def raw_request(url, method, path, body=b"", headers=None):
    """(status, JSON body) of a hand-made HTTP/1.1 request: bytes exactly as given."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    response = httpx.request(method, f"{url}{path}", content=body, headers=headers, timeout=300)
    return response.status_code, response.json()


def post_json(payload):
    return ("POST", "/translate", json.dumps(payload).encode())


HOSTILE = [
    ("malformed JSON", ("POST", "/translate", b'{"text": ["a",'), 400),
    ("not JSON at all", ("POST", "/translate", b"\x00\xff garbage"), 400),
    ("deeply nested JSON", ("POST", "/translate", b"[" * 100_000 + b"]" * 100_000), 400),
    ("body not an object", post_json(["a line"]), 422),
    ("text missing", post_json({"lines": ["a"]}), 422),
    ("text not a list", post_json({"text": "a line"}), 422),
    ("numbers inside text", post_json({"text": ["a", 3, None]}), 422),
    ("10 MB body", post_json({"text": ["the " * 2_500_000]}), 413),
    ("100,000 lines", post_json({"text": ["the ."] * 100_000}), 413),
    ("50,000-character line", post_json({"text": ["a" * 50_000]}), 413),
    ("beam 0", post_json({"text": ["the ."], "beam": 0}), 422),
    ("beam 10,000", post_json({"text": ["the ."], "beam": 10_000}), 422),
    ("beam a string", post_json({"text": ["the ."], "beam": "5"}), 422),
    ("nbest above beam", post_json({"text": ["the ."], "beam": 2, "nbest": 3}), 422),
    ("wrong method", ("GET", "/translate", b""), 405),
    ("wrong method on health", ("DELETE", "/health", b""), 405),
    ("unknown path", ("POST", "/translation", b'{"text": []}'), 404),
    (
        "lone surrogates",
        ("POST", "/translate", b'{"text": ["the \\ud800 rimo", "\\udfff", "x\\ud83d"]}'),
        200,
    ),
    ("invalid UTF-8", ("POST", "/translate", b'{"text": ["the \xff\xfe rimo"]}'), 200),
    ("control characters", post_json({"text": ["\x00\x07\x1b[2J\x7f\u200b\u2028 the ."]}), 200),
    ("no lines", post_json({"text": []}), 200),
]


@pytest.mark.parametrize("request_, status", [case[1:] for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_requests_get_a_json_error_and_leave_the_server_healthy(server, request_, status):
    method, path, body = request_
    got, answer = raw_request(server.url, method, path, body)
    assert got == status, answer
    if status == 200:
        lines = json.loads(body.decode("utf-8", errors="replace"))["text"]
        assert len(answer["translations"]) == len(lines)
        assert all(isinstance(t, str) for t in answer["translations"])
    else:
        assert answer["status"] == status and answer["error"]
    assert health(server.url)[0] == 200


def open_socket(url):
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def test_client_leaving_mid_body_does_not_harm_the_server(server):
    with open_socket(server.url) as sock:
        sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b'{"text": [')
    assert health(server.url)[0] == 200
    assert httpx.post(f"{server.url}/translate", json={"text": ["the ."]}, timeout=60).status_code == 200


def test_client_leaving_while_queued_is_dropped_and_others_are_served(slow_server):
    before = health(slow_server.url)[1]
    body = json.dumps({"text": [f"the rimo {i} ." for i in range(6)]}).encode()
    with open_socket(slow_server.url) as sock:
        sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.5)  # queued: its lines wait up to 3 s for company
    other = httpx.post(f"{slow_server.url}/translate", json={"text": ["the .", "a rimo ."]}, timeout=60)
    assert other.status_code == 200 and len(other.json()["translations"]) == 2
    status, after = health(slow_server.url)
    assert status == 200 and after["queued_sentences"] == 0
    assert after["dropped_sentences"] - before["dropped_sentences"] == 6
    assert after["sentences"] - before["sentences"] == 2


def test_a_full_queue_answers_503_with_retry_after(slow_server):
    def first():
        results.append(httpx.post(f"{slow_server.url}/translate", json={"text": ["the ."] * 8}, timeout=60))

    results = []
    waiting = threading.Thread(target=first)
    waiting.start()
    while health(slow_server.url)[1]["queued_sentences"] < 8:
        time.sleep(0.05)
    refused = httpx.post(f"{slow_server.url}/translate", json={"text": ["a ."] * 3}, timeout=60)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "busy" in refused.json()["error"]
    assert health(slow_server.url)[1]["status"] == "ready"  # 8 of 10: a small request still fits
    waiting.join()
    assert results[0].status_code == 200 and len(results[0].json()["translations"]) == 8


def test_sigterm_during_a_request_finishes_it_and_exits_0(slow_server):
    results = []
    request = threading.Thread(
        target=lambda: results.append(
            httpx.post(f"{slow_server.url}/translate", json={"text": ["the .", "", "a rimo ."]}, timeout=60)
        )
    )
    request.start()
    while health(slow_server.url)[1]["queued_sentences"] < 2:
        time.sleep(0.05)
    slow_server.terminate()
    request.join()
    assert results[0].status_code == 200
    translations = results[0].json()["translations"]
    assert len(translations) == 3 and translations[1] == "" and translations[0]
    assert slow_server.stop() == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{slow_server.url}/health", timeout=5)


def test_serve_mistakes_end_in_one_line_errors(toy_run, tmp_path, fairseq_env):
    done = evo_mt("serve", str(toy_run), "--max-lines", "0", env=fairseq_env)
    assert (
        done.returncode == 1 and done.stderr.strip() == "evo-mt: error: --max-lines must be at least 1, not 0"
    )
    done = evo_mt("serve", str(tmp_path), env=fairseq_env)
    assert (
        done.returncode == 1 and done.stderr.startswith("evo-mt: error: ") and "\n" not in done.stderr.strip()
    )
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        done = evo_mt("serve", str(toy_run), "--port", port, "--beam", "1", env=fairseq_env)
    assert done.returncode == 1 and done.stderr.strip().startswith(
        f"evo-mt: error: --port {port} on 127.0.0.1"
    )


def test_bench_serve_reports_throughput_latency_and_memory(toy_run, tmp_path, fairseq_env):
    source = tmp_path / "lines.en"
    source.write_text("\n".join((toy_run / "raw" / "test.en").read_text().splitlines()[:40]) + "\n")
    output = tmp_path / "serve.json"
    done = evo_mt(
        "bench", "serve", str(toy_run), "--input", str(source), "--clients", "4", "--beam", "1",
        "--request-lines", "5", "--json", str(output), env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["lines"] == 40 and report["requests"] == 8 and report["clients"] == 4
    assert report["lines_per_s"] > 0 and report["server_peak_memory_mib"] > 50
    assert report["latency_s"]["p50"] <= report["latency_s"]["p95"] <= report["latency_s"]["p99"]
    assert report["evo_mt_translate"]["lines_per_s"] > 0
    assert "lines/s" in done.stdout and "evo-mt translate" in done.stdout
