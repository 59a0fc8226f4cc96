"""Which models a text goes through (evo_mt.runtime.text.routing) and which language it is in
(evo_mt.runtime.text.detection), without loading a model."""

import pytest

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.text.detection import DetectionError, LanguageDetector
from evo_mt.runtime.text.routing import Catalog, RouteError


class Pair:
    """A stand-in translator: only its languages matter to routing."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target

    def describe(self):
        return {"source_language": self.source, "target_language": self.target}


def catalog(*pairs: str) -> Catalog:
    return Catalog([Pair(*pair.split("-")) for pair in pairs], list(pairs))


def test_direct_pairs_win_and_a_pivot_prefers_english():
    models = catalog("es-en", "en-de", "es-fr", "fr-de", "de-it")
    assert models.route("en", "de").languages == ("en", "de")
    # es reaches de through en and through fr: English first, whatever the models' order.
    assert models.route("es", "de").languages == ("es", "en", "de")
    assert catalog("es-fr", "fr-de", "es-en", "en-de").route("es", "de").languages == ("es", "en", "de")
    assert models.route("es", "de").pivot == "en"
    assert models.targets("es") == ["de", "en", "fr"]  # two legs at most: not it
    with pytest.raises(RouteError, match="no model translates es to it"):
        models.route("es", "it")


def test_the_pivot_is_alphabetical_without_english():
    assert catalog("es-pt", "es-fr", "pt-de", "fr-de").route("es", "de").languages == ("es", "fr", "de")


def test_choose_fills_in_the_only_choice_and_names_the_field():
    single = catalog("en-de")
    assert single.choose(None, None) == ("en", "de")
    assert single.choose("auto", None) == ("auto", "de")
    several = catalog("en-de", "de-fr")
    with pytest.raises(RouteError, match='give "source" \\(one of en, de, or auto\\)'):
        several.choose(None, "fr", name='"{}"'.format)
    with pytest.raises(RouteError, match="give --target \\(one of de, fr\\)"):
        several.choose("en", None, name=lambda option: f"--{option}")
    assert several.choose("en", "fr") == ("en", "fr")
    with pytest.raises(RouteError, match="no model translates into es"):
        several.choose("auto", "es")
    with pytest.raises(RouteError, match="the models translate en to de, fr; de to fr"):
        several.choose("fr", "en")


def test_two_models_of_one_pair_are_refused_naming_both():
    with pytest.raises(UserError, match="a and b both translate en to de"):
        Catalog([Pair("en", "de"), Pair("en", "de")], ["a", "b"])


def test_detection_chooses_among_the_served_languages_and_refuses_the_rest():
    detector = LanguageDetector(["en", "de"])
    assert detector.detect("Open the file in a new window").language == "en"
    assert detector.detect("Datei in einem neuen Fenster öffnen").language == "de"
    with pytest.raises(DetectionError, match="looks like es .* the models read en, de"):
        detector.detect("Abrir el archivo en una ventana nueva")
    with pytest.raises(DetectionError, match="cannot tell"):
        detector.detect("ok")
    candidates = detector.candidates("Datei öffnen")
    assert [found.language for found in candidates] == ["de", "en"]
    assert abs(sum(found.confidence for found in candidates) - 1) < 1e-6
    # A code with a region is detected as its language; one py3langid does not know, never.
    assert LanguageDetector(["pt-BR", "xx"]).candidates("Abrir o arquivo")[0].language == "pt-BR"
