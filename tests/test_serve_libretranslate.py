"""`evo-mt serve` for the clients people have: LibreTranslate's API (its own Python client,
unchanged), API keys, the rate limit, Prometheus metrics, the OpenAPI description, and the
web page in a real browser (headless Chromium through Playwright). The exported toy model."""

import io
import json
import os
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest
from conftest import EVO_MT, evo_mt, run_command
from libretranslatepy import LibreTranslateAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from evo_mt.evidence.serve_load import ServerProcess
from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.serving.app import create_app
from evo_mt.runtime.serving.keys import Access, KeyFile, RateLimit
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.requests import FIELDS, RequestError
from evo_mt.runtime.text.exported import ExportedTranslator

KEYS = ("key-one-0123", "key-two-4567")
PAIR = [
    {"code": "en", "name": "English", "targets": ["de"]},
    {"code": "de", "name": "German", "targets": []},
]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text(f"# the test's keys\n{KEYS[0]}\n\n  {KEYS[1]}  \n")
    return path


@pytest.fixture(scope="module")
def server(exported_toy, key_file, fairseq_env):
    with ServerProcess(exported_toy, "--api-keys", str(key_file), env=fairseq_env) as running:
        yield running
    assert running.returncode == 0, "".join(running.stderr[-20:])


@pytest.fixture(scope="module")
def test_lines(toy_run):
    return (toy_run / "raw" / "test.en").read_text().splitlines()[:12]


@pytest.fixture(scope="module")
def expected(exported_toy, test_lines, fairseq_env):
    """`evo-mt translate DIR`'s translation of each test line."""
    return dict(zip(test_lines, translate_command(exported_toy, test_lines, fairseq_env), strict=True))


def translate_command(folder, lines, env, *options):
    done = run_command([EVO_MT, "translate", str(folder), *options], env, input="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("\n")[: len(lines)]


def post(server, path, key=KEYS[0], **fields):
    return httpx.post(f"{server.url}{path}", json={**fields, "api_key": key}, timeout=300)


def test_libretranslate_client_lists_languages_and_translates_as_evo_mt_translate(server, expected):
    client = LibreTranslateAPI(server.url, api_key=KEYS[0])
    assert client.languages() == PAIR
    for line, translation in expected.items():
        assert client.translate(line, "en", "de") == translation
    assert client.detect(next(iter(expected))) == [{"confidence": 0.0, "language": "en"}]


def test_q_as_a_list_gets_a_list_and_a_string_a_string(server, expected):
    lines = list(expected)
    answer = post(server, "/translate", q=lines, source="en", target="de")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"translatedText": [expected[line] for line in lines], "warnings": []}
    answer = post(server, "/translate", q=lines[0], source="en", target="de", format="text").json()
    assert answer["translatedText"] == expected[lines[0]]
    # A text of several lines: each translated on its own, joined again (blank lines kept).
    answer = post(server, "/translate", q=f"{lines[1]}\r\n\n{lines[2]}", source="en", target="de").json()
    assert answer["translatedText"] == f"{expected[lines[1]]}\n\n{expected[lines[2]]}"


def test_source_auto_and_alternatives(server, exported_toy, expected, fairseq_env):
    lines = list(expected)[:3]
    answer = post(server, "/translate", q=lines, source="auto", target="de", alternatives=2).json()
    assert answer["detectedLanguage"] == [{"confidence": 0.0, "language": "en"}] * 3
    # The export's beam (5) holds alternatives + 1 hypotheses: `evo-mt translate --nbest 3`'s.
    three_best = translate_command(exported_toy, lines, fairseq_env, "--nbest", "3")
    for text, alternatives, hypotheses in zip(
        answer["translatedText"], answer["alternatives"], three_best, strict=True
    ):
        best, *others = hypotheses.split("\t")
        assert text == best
        assert alternatives == [
            other for i, other in enumerate(others) if other not in (best, *others[:i], "")
        ]
    single = post(server, "/translate", q=lines[0], source="auto", target="de", alternatives=1).json()
    assert single["detectedLanguage"] == {"confidence": 0.0, "language": "en"}
    assert isinstance(single["alternatives"], list)
    # 6 alternatives take a beam of 7, above the export's 5: the best is then beam 7's.
    grown = post(server, "/translate", q=lines[0], alternatives=6).json()
    seven_best = translate_command(exported_toy, lines[:1], fairseq_env, "--beam", "7", "--nbest", "7")
    assert grown["translatedText"] == seven_best[0].split("\t")[0]
    assert 1 <= len(grown["alternatives"]) <= 6


def test_form_data_as_libretranslate_clients_send_it(server, expected):
    lines = list(expected)[:2]
    form = {"q": lines[0], "source": "en", "target": "de", "api_key": KEYS[1]}
    answer = httpx.post(f"{server.url}/translate", data=form, timeout=300)
    assert answer.status_code == 200 and answer.json()["translatedText"] == expected[lines[0]]
    # A repeated q is a list; multipart/form-data (a browser's FormData) reads alike.
    answer = httpx.post(f"{server.url}/translate", data={**form, "q": lines}, timeout=300)
    assert answer.json()["translatedText"] == [expected[line] for line in lines]
    answer = httpx.post(f"{server.url}/translate", data=form, files={"unused": b""}, timeout=300)
    assert answer.status_code == 200 and answer.json()["translatedText"] == expected[lines[0]]
    answer = httpx.post(f"{server.url}/translate", data={**form, "alternatives": "1"}, timeout=300)
    assert answer.status_code == 200 and "alternatives" in answer.json()


def test_fields_in_the_query_string_are_answered_as_their_json_twin(server, expected):
    lines = list(expected)[:2]
    fields = {"q": lines[0], "source": "en", "target": "de", "alternatives": 1, "api_key": KEYS[0]}
    twin = httpx.post(f"{server.url}/translate", json=fields, timeout=300)
    assert twin.status_code == 200, twin.text
    # As LibreTranslate's clients send it: POST with the fields in the URL and an empty body.
    answer = httpx.post(f"{server.url}/translate", params=fields, timeout=300)
    assert answer.status_code == 200 and answer.json() == twin.json()
    # Split between the query string and a form, or a JSON body: the same answer.
    query, rest = {"q": lines[0], "alternatives": "1"}, {"source": "en", "target": "de", "api_key": KEYS[0]}
    answer = httpx.post(f"{server.url}/translate", params=query, data=rest, timeout=300)
    assert answer.json() == twin.json()
    answer = httpx.post(f"{server.url}/translate", params=query, json=rest, timeout=300)
    assert answer.json() == twin.json()
    # A repeated q in the query string is a list; evo-mt's form (text, scores) reads alike.
    answer = httpx.post(f"{server.url}/translate", params={"q": lines, "api_key": KEYS[0]}, timeout=300)
    assert answer.json()["translatedText"] == [expected[line] for line in lines]
    scored = post(server, "/translate", text=lines[:1], scores=True).json()
    answer = httpx.post(
        f"{server.url}/translate", params={"scores": "true", "api_key": KEYS[0]}, json={"text": lines[:1]}
    )
    assert answer.json() == scored
    detected = httpx.post(f"{server.url}/detect", params={"q": lines[0], "api_key": KEYS[0]})
    assert detected.status_code == 200 and detected.json() == post(server, "/detect", q=lines[0]).json()
    # One field, two values: refused, naming it; the same value twice is no conflict.
    answer = httpx.post(f"{server.url}/translate", params={"target": "fr"}, json=fields, timeout=300)
    assert answer.status_code == 400
    error = '"target" is given both in the query string and in the body; give it once'
    assert answer.json()["error"] == error
    answer = httpx.post(f"{server.url}/translate", params={"target": "de"}, json=fields, timeout=300)
    assert answer.status_code == 200


def test_evo_mt_requests_still_work_on_the_same_route(server, expected):
    lines = list(expected)[:3]
    answer = post(server, "/translate", text=lines)
    assert answer.json() == {"translations": [expected[line] for line in lines], "warnings": []}
    answer = post(server, "/translate", text=lines[:1], nbest=2, source="en", target="de")
    assert answer.status_code == 200 and answer.json()["translations"][0][0] == expected[lines[0]]
    # `curl -d '{...}'` sends JSON labelled as a form.
    body = json.dumps({"text": lines[:1], "api_key": KEYS[0]})
    answer = httpx.post(
        f"{server.url}/translate", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.json()["translations"] == [expected[lines[0]]]


def test_keys_decide_who_translates(server):
    for key, status in ((None, 403), ("", 403), ("wrong-key", 403), (KEYS[0], 200), (KEYS[1], 200)):
        fields = {"q": "the .", "source": "en", "target": "de"}
        answer = httpx.post(
            f"{server.url}/translate",
            json={**fields, **({} if key is None else {"api_key": key})},
            timeout=60,
        )
        assert answer.status_code == status, (key, answer.text)
        if status == 403:
            assert isinstance(answer.json()["error"], str) and "key" in answer.json()["error"]
        answer = httpx.post(
            f"{server.url}/detect", data={"q": "the .", **({} if key is None else {"api_key": key})}
        )
        assert answer.status_code == status
    bearer = {"Authorization": f"Bearer {KEYS[1]}"}
    assert httpx.post(f"{server.url}/translate", json={"q": "the ."}, headers=bearer).status_code == 200
    assert httpx.get(f"{server.url}/metrics").status_code == 403
    assert httpx.get(f"{server.url}/metrics", headers=bearer).status_code == 200
    for open_path in ("/health", "/languages", "/info", "/frontend/settings", "/", "/openapi.json"):
        assert httpx.get(f"{server.url}{open_path}").status_code == 200, open_path
    assert httpx.get(f"{server.url}/frontend/settings").json()["keyRequired"] is True
    assert not any(key in line for key in KEYS for line in server.stderr)


def test_the_key_file_is_read_again_on_change_and_on_sighup(server, key_file):
    kept = key_file.read_text()
    try:
        key_file.write_text(kept + "key-three-89\n")
        assert post(server, "/translate", key="key-three-89", q="the .").status_code == 200
        # Same size, same time stamp, same file: only SIGHUP can tell it changed.
        before = key_file.stat()
        with open(key_file, "r+") as same_file:
            same_file.write(kept.replace(KEYS[0], "key-four-012") + "key-three-89\n")
        os.utime(key_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert post(server, "/translate", key="key-four-012", q="the .").status_code == 403
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while post(server, "/translate", key="key-four-012", q="the .").status_code != 200:
            assert time.monotonic() < deadline, "SIGHUP did not reload the key file"
            time.sleep(0.1)
        assert post(server, "/translate", key=KEYS[0], q="the .").status_code == 403
    finally:
        key_file.write_text(kept)
    assert post(server, "/translate", key=KEYS[0], q="the .").status_code == 200
    assert any("keys.txt read again" in line for line in server.stderr)
    assert not any(key in line for key in (*KEYS, "key-three-89", "key-four-012") for line in server.stderr)


def test_the_rate_limit_answers_429_with_retry_after(exported_toy, key_file, fairseq_env):
    options = ("--api-keys", str(key_file), "--rate-limit", "3")
    with ServerProcess(exported_toy, *options, env=fairseq_env) as limited:
        statuses = [post(limited, "/translate", q="the .").status_code for _ in range(3)]
        refused = post(limited, "/translate", q="the .")
        other_key = post(limited, "/translate", key=KEYS[1], q="the .")
        health = httpx.get(f"{limited.url}/health")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Slowdown" in refused.json()["error"]
    assert other_key.status_code == 200 and health.status_code == 200


def test_keyless_requests_served_at_the_default_limit_and_keys_at_their_own(
    exported_toy, tmp_path, fairseq_env
):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{KEYS[0]} 1\n{KEYS[1]}\n")
    options = ("--api-keys", str(keys), "--keyless", "serve", "--rate-limit", "2")
    with ServerProcess(exported_toy, *options, env=fairseq_env) as open_server:
        url = open_server.url
        keyless = [httpx.post(f"{url}/translate", json={"q": "the ."}).status_code for _ in range(3)]
        own_limit = [post(open_server, "/translate", q="the .").status_code for _ in range(2)]
        default_limit = [
            post(open_server, "/translate", key=KEYS[1], q="the .").status_code for _ in range(3)
        ]
        unknown = post(open_server, "/translate", key="not-a-key", q="the .")
        settings = httpx.get(f"{url}/frontend/settings").json()
        metrics = httpx.get(f"{url}/metrics").status_code
    assert keyless == [200, 200, 429]  # at --rate-limit, per client address
    assert own_limit == [200, 429]  # the key's own 1 a minute
    assert default_limit == [200, 200, 429]
    assert unknown.status_code == 403 and unknown.json()["error"] == "invalid API key"
    assert settings["apiKeys"] is True and settings["keyRequired"] is False
    assert metrics == 403  # a scraper still needs a key


def test_access_decides_by_key_and_keyless_option(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# keys\n{KEYS[0]} 0\n{KEYS[1]}\n")
    refusing = Access(KeyFile(keys), rate_limit=1)
    with pytest.raises(RequestError, match="an API key is needed") as refused:
        refusing.check(None, "10.0.0.1")
    assert refused.value.status == 403
    for _ in range(3):
        refusing.check(KEYS[0], "10.0.0.1")  # its own limit, 0: none
    refusing.check(KEYS[1], "10.0.0.1")
    with pytest.raises(RequestError, match="Slowdown: more than 1 requests") as slowed:
        refusing.check(KEYS[1], "10.0.0.1")
    assert slowed.value.status == 429
    serving = Access(KeyFile(keys), keyless="serve")
    serving.check(None, "10.0.0.1")
    with pytest.raises(RequestError, match="an API key is needed"):
        serving.check_key(None, required=True)
    with pytest.raises(OptionError, match="keyless"):
        Access(keyless="sometimes")
    keys.write_text(f"{KEYS[0]} many\n")
    with pytest.raises(OptionError, match=r"keys.txt:1: not 'KEY' or 'KEY REQUESTS_A_MINUTE'"):
        KeyFile(keys)


def test_the_rate_limit_counts_each_caller_in_a_moving_minute():
    limit = RateLimit(2)
    assert limit.retry_after(b"a") is None and limit.retry_after(b"a") is None
    wait = limit.retry_after(b"a")
    assert wait is not None and 1 <= wait <= 60
    assert limit.retry_after(b"a") is not None  # a refused request is not counted, still refused
    assert limit.retry_after(b"b") is None  # another caller has a window of its own
    assert limit.retry_after(b"c", per_minute=1) is None and limit.retry_after(b"c", per_minute=1)
    assert all(limit.retry_after(b"d", per_minute=0) is None for _ in range(5))  # 0: no limit
    with pytest.raises(OptionError, match="rate_limit"):
        RateLimit(-1)


def metric_values(server):
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {KEYS[0]}"}).text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_metrics_count_the_translated_lines(server, expected):
    lines = [*list(expected)[:5], ""]
    before = metric_values(server)
    assert post(server, "/translate", q=lines).status_code == 200
    after = metric_values(server)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("evo_mt_translated_lines_total") == 5  # the blank line is not decoded
    assert grew("evo_mt_translated_characters_total") == sum(len(line) for line in lines)
    assert grew("evo_mt_http_requests_total", route="/translate", status="200") == 1
    assert grew("evo_mt_http_request_duration_seconds_count", route="/translate") == 1
    # Each of these test lines is one sentence: decoded, or answered from the cache.
    decoded = grew("evo_mt_translated_sentences_total")
    assert decoded + grew("evo_mt_cache_hits_total") == 5 and grew("evo_mt_cache_misses_total") == decoded
    assert grew("evo_mt_batch_sentences_sum") == decoded
    assert after[("evo_mt_queued_sentences", ())] == 0
    httpx.get(f"{server.url}/no/such/path/{time.time()}")
    assert metric_values(server)[("evo_mt_http_requests_total", (("route", "other"), ("status", "404")))] >= 1


LIBRETRANSLATE_ERRORS = [
    (
        "a source the model does not read",
        {"q": "a", "source": "fr", "target": "de"},
        "en (English) to de (German)",
    ),
    (
        "a target the model does not write",
        {"q": "a", "source": "en", "target": "es"},
        "en (English) to de (German)",
    ),
    (
        "html with alternatives",
        {"q": "<p>a</p>", "source": "en", "target": "de", "format": "html", "alternatives": 1},
        'format "html" goes without alternatives',
    ),
    ("an unknown format", {"q": "a", "format": "markdown"}, '"format"'),
    ("q not text", {"q": 3}, '"q" must be a string or a list of strings'),
    ("q and text", {"q": "a", "text": ["a"]}, "not both"),
    ("nbest with q", {"q": "a", "nbest": 2}, '"nbest" goes with "text"'),
    ("alternatives a string", {"q": "a", "alternatives": "two"}, '"alternatives" must be an integer'),
    ("alternatives above the beam", {"q": "a", "alternatives": 3, "beam": 2}, 'must not exceed "beam"'),
    ("a line over --max-chars", {"q": "a" * 5000}, "the limit is 4096"),
    ("too many lines", {"q": "a\n" * 300}, "the limit is 256"),
]


@pytest.mark.parametrize(
    "fields, message", [case[1:] for case in LIBRETRANSLATE_ERRORS], ids=[c[0] for c in LIBRETRANSLATE_ERRORS]
)
def test_libretranslate_requests_are_refused_with_400(server, fields, message):
    answer = post(server, "/translate", **fields)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]


def test_languages_detect_and_what_is_not_offered(server):
    assert httpx.get(f"{server.url}/languages").json() == PAIR
    assert post(server, "/detect", q=["a", "b"]).json() == [[{"confidence": 0.0, "language": "en"}]] * 2
    assert post(server, "/detect").status_code == 400
    assert post(server, "/translate", q="a", source="auto", target="de").status_code == 200
    answer = httpx.post(f"{server.url}/suggest", data={"q": "a", "s": "b", "api_key": KEYS[0]})
    assert answer.status_code == 403 and answer.json()["error"]
    settings = httpx.get(f"{server.url}/frontend/settings").json()
    assert settings["filesTranslation"] is True
    assert {".txt", ".md", ".srt", ".vtt", ".docx"} <= set(settings["supportedFilesFormat"])
    assert settings["language"] == {
        "source": {"code": "en", "name": "English"},
        "target": {"code": "de", "name": "German"},
    }


def test_translate_file_then_download_file(server, expected, tmp_path):
    import docx

    line = list(expected)[0]
    srt = f"1\n00:00:01,000 --> 00:00:02,500\n{line}\n"
    document = docx.Document()
    document.add_paragraph(line)
    document.save(tmp_path / "a.docx")
    uploads = [("talk.srt", srt.encode()), ("a.docx", (tmp_path / "a.docx").read_bytes())]
    for key in ("", "not-a-key"):
        answer = httpx.post(f"{server.url}/translate_file", files={"file": uploads[0]}, data={"api_key": key})
        assert answer.status_code == 403, answer.text
    downloaded = []
    for upload in uploads:
        fields = {"source": "en", "target": "de", "api_key": KEYS[0]}
        answer = httpx.post(f"{server.url}/translate_file", files={"file": upload}, data=fields, timeout=300)
        assert answer.status_code == 200, answer.text
        url = answer.json()["translatedFileUrl"]
        assert url.startswith(f"{server.url}/download_file/") and url.endswith(upload[0])
        got = httpx.get(url)
        assert got.status_code == 200
        assert got.headers["content-disposition"] == f'attachment; filename="{upload[0]}"'
        downloaded.append(got.content)
    assert downloaded[0].decode() == f"1\n00:00:01,000 --> 00:00:02,500\n{expected[line]}\n\n"
    assert docx.Document(io.BytesIO(downloaded[1])).paragraphs[0].text == expected[line]
    assert httpx.get(f"{server.url}/download_file/{'0' * 32}.talk.srt").status_code == 404


def test_the_openapi_description_matches_the_routes(server, exported_toy):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert httpx.get(f"{server.url}/spec").json() == spec
    app = create_app(ExportedTranslator.load(exported_toy), ServerLimits())
    served = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods
        if method != "HEAD"
    }
    described = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    assert described == served
    assert set(spec["components"]["schemas"]["TranslateRequest"]["properties"]) == set(FIELDS)


def test_serve_key_mistakes_end_in_one_line_errors(exported_toy, tmp_path, fairseq_env):
    missing = tmp_path / "absent.txt"
    done = evo_mt("serve", str(exported_toy), "--api-keys", str(missing), env=fairseq_env)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"evo-mt: error: --api-keys {missing}: cannot read the key file (No such file or directory)"
    )
    done = evo_mt("serve", str(exported_toy), "--rate-limit", "-1", env=fairseq_env)
    assert (
        done.returncode == 1
        and done.stderr.strip() == "evo-mt: error: --rate-limit must not be negative, not -1"
    )


def chromium() -> str | None:
    candidates = (
        os.environ.get("EVO_MT_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    )
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def test_the_page_translates_a_typed_line_and_a_file_in_chromium(server, expected, tmp_path):
    browser_path = chromium()
    if browser_path is None:
        pytest.skip(
            "no Chromium: scripts/setup_browser.sh (make test) could not install Debian's chromium "
            "(it needs root or sudo, and apt-get); or set EVO_MT_CHROMIUM to a Chromium"
        )
    from playwright.sync_api import sync_playwright

    line = list(expected)[3]
    screenshot = Path(os.environ.get("EVO_MT_SCREENSHOT") or tmp_path / "serve-page.png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 520})
            page.goto(server.url + "/")
            page.wait_for_function("document.getElementById('pair').textContent.includes('German')")
            assert page.text_content("#pair") == "English (en) → German (de)"
            page.fill("#api-key", KEYS[0])
            page.fill("#source", line)
            page.click("#translate")
            page.wait_for_function("document.getElementById('translation').value !== ''", timeout=60_000)
            assert page.input_value("#translation") == expected[line]
            page.screenshot(path=str(screenshot))
            # A document: uploaded, translated, its translation downloaded through the link.
            srt = tmp_path / "talk.srt"
            srt.write_text(f"1\n00:00:01,000 --> 00:00:02,000\n{line}\n")
            assert page.get_attribute("#file", "accept").split(",")[:2] == [".txt", ".md"]
            page.set_input_files("#file", str(srt))
            page.click("#translate-file")
            page.wait_for_selector("#download:not([hidden])", timeout=60_000)
            with page.expect_download() as download:
                page.click("#download")
            assert download.value.suggested_filename == "talk.srt"
            saved = tmp_path / "talk.de.srt"
            download.value.save_as(saved)
            assert saved.read_text() == f"1\n00:00:01,000 --> 00:00:02,000\n{expected[line]}\n\n"
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
