"""The server's translation cache: a repeated sentence answered without the model, with the
answer it had (also for n-best, a beam of its own and a glossary), counted in /metrics, bounded.
The exported toy model in this process (Starlette's TestClient)."""

from conftest import toy_lines
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from evo_mt.runtime.serving.app import create_app
from evo_mt.runtime.serving.cache import TranslationCache, unit_key
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.exported import ExportedTranslator
from evo_mt.runtime.text.results import Scored


def metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return next(sample.value for sample in samples if sample.name == name)


def test_repeated_sentences_are_cache_hits_with_the_same_answers(exported_toy, toy_run):
    lines = toy_lines(toy_run, 8)
    translator = ExportedTranslator.load(exported_toy)
    requests = [
        {"text": lines, "scores": True},
        {"text": lines[:4], "nbest": 3, "scores": True},  # fewer of the cached beam's hypotheses
        {"text": lines[:4], "beam": 2},  # another beam: another search, not a hit
        {"q": lines[0], "source": "en", "target": "de", "glossary": {"the": "die"}},  # other phrases
        {"q": "\n".join(lines[:3]), "alternatives": 2},
    ]
    with TestClient(create_app([translator], ServerLimits(cache_size=0))) as plain:
        uncached = [plain.post("/translate", json=request).json() for request in requests]
        assert metric(plain, "evo_mt_cache_misses_total") == 0  # off: nothing counted
    with TestClient(create_app([translator], ServerLimits())) as cached:
        first = [cached.post("/translate", json=request).json() for request in requests]
        misses = metric(cached, "evo_mt_cache_misses_total")
        # 8 lines, then 4 hits (nbest 3 of beam 5), 4 misses (beam 2), 1 miss (its glossary), 3 hits.
        assert (metric(cached, "evo_mt_cache_hits_total"), misses) == (7, 13)
        again = [cached.post("/translate", json=request).json() for request in requests]
        assert metric(cached, "evo_mt_cache_misses_total") == misses
        assert metric(cached, "evo_mt_cache_hits_total") == 7 + 20
        assert metric(cached, "evo_mt_translated_sentences_total") == misses
        assert metric(cached, "evo_mt_cache_entries") == 13
        assert cached.get("/health").json()["cache_hits"] == 27
    assert first == again == uncached  # byte for byte: the JSON answers, scores included


def test_the_cache_is_bounded_and_keeps_the_recently_used(exported_toy, toy_run):
    lines = toy_lines(toy_run, 6)
    app = create_app([ExportedTranslator.load(exported_toy)], ServerLimits(cache_size=3))
    with TestClient(app) as client:
        for line in lines:  # one request each: put in this order
            client.post("/translate", json={"text": [line]})
        assert metric(client, "evo_mt_cache_entries") == 3
        client.post("/translate", json={"text": lines[-1:]})
        assert metric(client, "evo_mt_cache_hits_total") == 1
        client.post("/translate", json={"text": lines[:1]})
        assert metric(client, "evo_mt_cache_hits_total") == 1  # pushed out by the later lines


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 3)), max_size=30), st.integers(0, 4))
def test_a_cache_holds_at_most_its_size_and_answers_the_last_put(puts, size):
    cache = TranslationCache(size)
    last = {}
    for piece, beam in puts:
        key = unit_key("model", [piece], beam, [])
        cache.put(key, [Scored(f"{piece}{beam}", -1.0, 2)])
        last[key] = f"{piece}{beam}"
        assert len(cache) <= size
    for key, text in last.items():
        found = cache.get(key)
        assert found is None or found[0].text == text
        assert size or found is None
