"""Several models behind one `evo-mt serve` and one `evo-mt translate`: routing by language
pair, pivoting through a shared language, language detection for `source: "auto"`. The
exported toy model (en -> de) and a second pair trained for the tests (de -> fr,
conftest.de_fr_model): English reaches French through German."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import EVO_MT, evo_mt, run_command
from test_serve_libretranslate import CHROMIUM_ARGS, chromium

from evo_mt.evidence.serve_load import ServerProcess

HELD_OUT = 40  # sentences per source language for the detection figure


@pytest.fixture(scope="module")
def two_models(exported_toy, de_fr_model, fairseq_env):
    with ServerProcess(exported_toy, str(de_fr_model), env=fairseq_env) as running:
        yield running
    assert running.returncode == 0, "".join(running.stderr[-20:])


@pytest.fixture(scope="module")
def sentences(toy_run):
    """Held-out sentences of each source language: the toy test set's two sides (the de -> fr
    model was trained on a corpus of another seed)."""
    raw = toy_run / "raw"
    return {lang: (raw / f"test.{lang}").read_text().splitlines()[-HELD_OUT:] for lang in ("en", "de")}


def translated(models, lines, env, *options):
    done = run_command([EVO_MT, "translate", *map(str, models), *options], env, input="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("\n")[: len(lines)]


def post(server, **fields):
    return httpx.post(f"{server.url}/translate", json=fields, timeout=300)


def test_languages_name_both_pairs_and_the_pivot(two_models, exported_toy, de_fr_model):
    assert httpx.get(f"{two_models.url}/languages").json() == [
        {"code": "en", "name": "English", "targets": ["de", "fr"]},
        {"code": "de", "name": "German", "targets": ["fr"]},
        {"code": "fr", "name": "French", "targets": []},
    ]
    info = httpx.get(f"{two_models.url}/info").json()
    assert [(m["name"], m["source_language"], m["target_language"]) for m in info["models"]] == [
        (str(exported_toy), "en", "de"), (str(de_fr_model), "de", "fr")
    ]
    health = httpx.get(f"{two_models.url}/health").json()
    assert [(m["source"], m["target"]) for m in health["models"]] == [("en", "de"), ("de", "fr")]


def test_direct_and_pivot_requests_equal_the_models_one_after_the_other(
    two_models, exported_toy, de_fr_model, sentences, fairseq_env
):
    english, german = sentences["en"][:4], sentences["de"][:4]
    direct = post(two_models, q=german, source="de", target="fr").json()
    assert direct["translatedText"] == translated([de_fr_model], german, fairseq_env)
    assert direct["route"] == [["de", "fr"]] * 4
    into_german = translated([exported_toy], english, fairseq_env)
    assert post(two_models, q=english, source="en", target="de").json()["translatedText"] == into_german
    pivot = post(two_models, q=english, source="en", target="fr").json()
    assert pivot["translatedText"] == translated([de_fr_model], into_german, fairseq_env)
    assert pivot["route"] == [["en", "de", "fr"]] * 4
    # The command line takes the same route.
    both = [exported_toy, de_fr_model]
    through = translated(both, english, fairseq_env, "--source", "en", "--target", "fr")
    assert through == pivot["translatedText"]
    # evo-mt's own form: the same, with scores of the last leg.
    scored = post(two_models, text=english, source="en", target="fr", scores=True).json()
    assert [line["translation"] for line in scored["translations"]] == pivot["translatedText"]
    assert scored["routes"] == [["en", "de", "fr"]] * 4


def test_source_auto_detects_held_out_sentences_of_each_language(
    two_models, exported_toy, de_fr_model, sentences, fairseq_env
):
    def detected(text):
        answer = post(two_models, q=text, source="auto", target="fr")
        return answer.json()["detectedLanguage"]["language"] if answer.status_code == 200 else None

    with ThreadPoolExecutor(4) as pool:
        found = {lang: list(pool.map(detected, texts)) for lang, texts in sentences.items()}
    right = {lang: sum(answer == lang for answer in answers) / HELD_OUT for lang, answers in found.items()}
    print(f"source auto right: {right}")
    assert min(right.values()) >= 0.95, right
    mixed = [sentences["en"][0], sentences["de"][0]]
    answer = post(two_models, q=mixed, source="auto", target="fr").json()
    assert [d["language"] for d in answer["detectedLanguage"]] == ["en", "de"]
    assert answer["route"] == [["en", "de", "fr"], ["de", "fr"]]
    # The command line detects each line's language the same way.
    both = [exported_toy, de_fr_model]
    detecting = translated(both, mixed, fairseq_env, "--source", "auto", "--target", "fr")
    assert detecting == answer["translatedText"]


def test_what_no_model_translates_is_refused_naming_what_is(two_models):
    cases = [
        ({"q": "a", "source": "fr", "target": "de"}, "no model translates from fr; the models translate en"),
        ({"q": "a", "source": "en", "target": "es"}, "no model translates en to es"),
        ({"q": "a", "target": "fr"}, 'give "source" (one of en, de, or auto)'),
        ({"q": "la casa es muy bonita y grande", "source": "auto", "target": "fr"}, "the models read en, de"),
        ({"q": "ok", "source": "auto", "target": "fr"}, "cannot tell which language"),
        ({"q": "das Haus ist klein", "source": "auto", "target": "de"}, "no model translates de to de"),
    ]
    for fields, message in cases:
        answer = post(two_models, **fields)
        assert answer.status_code == 400 and message in answer.json()["error"], (fields, answer.text)


def test_serve_refuses_a_broken_model_folder_or_two_models_of_one_pair(exported_toy, tmp_path, fairseq_env):
    broken = tmp_path / "broken"
    shutil.copytree(exported_toy, broken)
    (broken / "decoder.onnx").write_bytes((broken / "decoder.onnx").read_bytes()[:1000])
    for models, message in (
        ([broken], f"{broken}"),
        ([exported_toy, exported_toy], "both translate en to de; give one model per pair"),
    ):
        done = evo_mt("serve", *map(str, models), "--port", "0", env=fairseq_env)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert message in done.stderr.strip().splitlines()[-1]


def relabelled(folder, tmp_path, source, target):
    """A copy of an exported folder that says it translates `source` to `target` (the
    manifest's languages are not among the files it checks): a model of a third pair for
    the page's swap, without training one."""
    copy = tmp_path / f"{source}-{target}"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["languages"] = {"source": source, "target": target}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_the_page_picks_languages_detects_and_swaps_in_chromium(
    exported_toy, de_fr_model, sentences, tmp_path, fairseq_env
):
    browser_path = chromium()
    assert browser_path, "no Chromium: scripts/setup_browser.sh (make test) installs Debian's"
    from playwright.sync_api import sync_playwright

    back = relabelled(de_fr_model, tmp_path, "de", "en")
    english = sentences["en"][0]
    expected = {
        target: translated(models, [english], fairseq_env, "--source", "en", "--target", target)[0]
        for target, models in (("de", [exported_toy]), ("fr", [exported_toy, de_fr_model]))
    }
    with ServerProcess(exported_toy, str(de_fr_model), str(back), env=fairseq_env) as server:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(server.url + "/")
                page.wait_for_function("document.getElementById('pair').textContent.includes('→')")
                options = page.eval_on_selector_all("#source-language option", "all => all.map(o => o.value)")
                assert options == ["auto", "en", "de"]
                assert page.input_value("#source-language") == "en"
                page.select_option("#target-language", "fr")
                targets = page.eval_on_selector_all("#target-language option", "all => all.map(o => o.value)")
                assert targets == ["de", "fr"]
                assert page.is_disabled("#swap")  # no model translates French
                page.fill("#source", english)
                page.click("#translate")
                page.wait_for_function("document.getElementById('translation').value !== ''", timeout=60_000)
                assert page.input_value("#translation") == expected["fr"]
                # Detect: the language found is shown, and en <-> de can be swapped.
                page.select_option("#source-language", "auto")
                page.select_option("#target-language", "de")
                page.evaluate("document.getElementById('translation').value = ''")
                page.click("#translate")
                page.wait_for_function("document.getElementById('translation').value !== ''", timeout=60_000)
                assert page.input_value("#translation") == expected["de"]
                assert page.text_content("#pair") == "English (detected) → German"
                assert not page.is_disabled("#swap")
                page.click("#swap")
                chosen = (page.input_value("#source-language"), page.input_value("#target-language"))
                assert chosen == ("de", "en")
                assert page.input_value("#source") == expected["de"]
            finally:
                browser.close()
    assert server.returncode == 0


def test_bench_cache_and_memory_print_their_figures(
    exported_toy, de_fr_model, sentences, tmp_path, fairseq_env
):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(sentences["en"][:12]) + "\n")
    done = evo_mt(
        "bench", "cache", str(exported_toy), "--input", str(lines), "--copies", "3", "--clients", "1",
        "--request-lines", "6", env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout.splitlines()
    assert printed[0] == "36 lines (12 distinct), 1 client(s)"
    assert "36 sentences decoded, 0 cache hits" in printed[1]
    # One client, one request at a time: every line after the first copy is a hit.
    assert "12 sentences decoded, 24 cache hits" in printed[2]
    assert printed[-1].endswith("outputs identical: True")
    done = evo_mt("bench", "memory", str(exported_toy), str(de_fr_model), env=fairseq_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("2 model(s): ") and "after a request of each pair" in done.stdout
