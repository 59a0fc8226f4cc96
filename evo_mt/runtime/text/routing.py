"""Several models, one per language pair, and the way from a source language to a target.

A pair with a model of its own is translated by it; a pair without one goes through one
shared language when both legs have models (es -> en -> de from es->en and en->de), as
LibreTranslate and Argos Translate do. The pivot is English when English can serve, else
the first shared language in alphabetical order, so that a route never depends on the
order the models were given in. Only the last leg searches with the caller's options
(n-best, beam, required phrases, glossary): the earlier legs give their best translation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS
from evo_mt.runtime.text.detection import Candidate, LanguageDetector
from evo_mt.runtime.text.inline import Marked, translate_marked
from evo_mt.runtime.text.pipeline import translate_lines
from evo_mt.runtime.text.results import LineTranslation
from evo_mt.runtime.text.translator import TextTranslator

PREFERRED_PIVOT = "en"


class RouteError(UserError):
    """A pair no model or chain of two models translates."""


@dataclass(frozen=True)
class Route:
    """The models a text goes through, in order; `languages` names every step (source,
    pivot if any, target)."""

    legs: Tuple[TextTranslator, ...]
    languages: Tuple[str, ...]

    @property
    def pivot(self) -> str | None:
        return self.languages[1] if len(self.languages) == 3 else None

    def describe(self) -> str:
        return " -> ".join(self.languages)


def pair_of(translator: TextTranslator) -> Tuple[str, str]:
    described = translator.describe()
    return described["source_language"], described["target_language"]


class Catalog:
    """The models of one server (or one `evo-mt translate`), at most one per pair."""

    def __init__(self, translators: Sequence[TextTranslator], names: Sequence[str] | None = None) -> None:
        """`names`: how an error names each model (its folder), in the same order."""
        names = list(names) if names is not None else [str(i) for i in range(len(translators))]
        self.models: Dict[Tuple[str, str], TextTranslator] = {}
        self.names: Dict[Tuple[str, str], str] = {}
        for translator, name in zip(translators, names, strict=True):
            pair = pair_of(translator)
            if pair in self.models:
                raise UserError(
                    f"{self.names[pair]} and {name} both translate {pair[0]} to {pair[1]}; "
                    "give one model per pair"
                )
            self.models[pair] = translator
            self.names[pair] = name
        if not self.models:
            raise UserError("no model given")

    @property
    def sources(self) -> List[str]:
        """The languages some model translates from, in the order the models were given."""
        return list(dict.fromkeys(source for source, _ in self.models))

    def targets(self, source: str) -> List[str]:
        """Every language `source` reaches, directly or through a pivot, sorted."""
        direct = {target for (from_, target) in self.models if from_ == source}
        pivoted = {target for (from_, target) in self.models if from_ in direct and target != source}
        return sorted(direct | pivoted)

    def route(self, source: str, target: str) -> Route:
        """How `source` text becomes `target` text, or RouteError naming what is served."""
        if (source, target) in self.models:
            return Route((self.models[source, target],), (source, target))
        pivots = sorted(
            {via for (from_, via) in self.models if from_ == source and (via, target) in self.models},
            key=lambda via: (via != PREFERRED_PIVOT, via),
        )
        if source != target and pivots:
            via = pivots[0]
            return Route((self.models[source, via], self.models[via, target]), (source, via, target))
        raise RouteError(f"no model translates {source} to {target}; {self.describe()}")

    def reachable(self, source: str) -> List[str]:
        """The targets of `source`; for "auto", those of any source."""
        if source != "auto":
            return self.targets(source)
        return sorted({target for known in self.sources for target in self.targets(known)})

    def source_for(self, target: str) -> str:
        """A source that reaches `target` (for a blank text, which any route gives back blank)."""
        return next(known for known in self.sources if target in self.targets(known))

    def choose(self, source: str | None, target: str | None, name=lambda option: option) -> Tuple[str, str]:
        """The (source, target) a request or a command means: source may be "auto"; either
        may be None when the models leave one choice. RouteError otherwise, naming each
        option as `name` spells it (a field, a command-line option)."""
        if source is None:
            if len(self.sources) > 1:
                raise RouteError(f"give {name('source')} (one of {', '.join(self.sources)}, or auto)")
            source = self.sources[0]
        if source != "auto" and source not in self.sources:
            raise RouteError(f"no model translates from {source}; {self.describe()}")
        reachable = self.reachable(source)
        if target is None:
            if len(reachable) != 1:
                raise RouteError(f"give {name('target')} (one of {', '.join(reachable)})")
            target = reachable[0]
        if source != "auto":
            self.route(source, target)
        elif target not in reachable:
            raise RouteError(f"no model translates into {target}; {self.describe()}")
        return source, target

    def describe(self) -> str:
        """The pairs served, for errors: "this server translates en to de, fr; de to fr"."""
        reached = "; ".join(f"{source} to {', '.join(self.targets(source))}" for source in self.sources)
        return f"the models translate {reached}"


class Router:
    """Lines from `source` (a language, or "auto": each line's is detected) into `target`,
    each through its route: what `evo-mt translate` runs with several models."""

    def __init__(
        self, catalog: Catalog, source: str | None, target: str | None,
        detector: LanguageDetector | None = None,
    ) -> None:
        """`source`/`target` None: the one choice the models leave, else a RouteError;
        `detector`: one to share (a server's), else one is made when `source` is "auto"."""
        self.catalog = catalog
        self.source, self.target = catalog.choose(source, target, name=lambda option: f"--{option}")
        self.detector = None
        if self.source == "auto":
            self.detector = detector or LanguageDetector(catalog.sources)

    @property
    def nbest(self) -> int:
        return min(translator.nbest for translator in self.catalog.models.values())

    def route(self, text: str, label: str) -> Route:
        """The route of one text: from `source`, or from the language detected in it."""
        return self.detected_route(text, label)[0]

    def detected_route(self, text: str, label: str) -> Tuple[Route, Candidate | None]:
        """The route of one text, and with "auto" the language detected (a blank text, which
        any route gives back blank, with confidence 0); a UserError names `label`."""
        if self.detector is None:
            return self.catalog.route(self.source, self.target), None
        if not text.strip():
            detected = Candidate(self.catalog.source_for(self.target), 0.0)
        else:
            try:
                detected = self.detector.detect(text)
            except UserError as error:
                raise UserError(f"{label}: {error}") from None
        try:
            return self.catalog.route(detected.language, self.target), detected
        except RouteError as error:
            raise RouteError(
                f"{label}: the text is in {detected.language} (detected, {detected.confidence:.0%}): {error}"
            ) from None

    def translate_marked(self, units: Sequence[Marked], **options: Any) -> List[Marked]:
        """A document's units (evo_mt.runtime.text.inline) through one route: the document's
        language, given or detected on its whole text."""
        route = self.route("\n".join(unit.text for unit in units), "the document")
        return translate_marked_through(route, units, **options)

    def translate(
        self, lines: Sequence[str], batch_size: int = BATCH_SIZE, max_tokens: int = MAX_TOKENS
    ) -> List[List[str]]:
        """The n best translations of each line, as TextTranslator.translate gives them."""
        found = self.translate_lines(lines, batch_size=batch_size, max_tokens=max_tokens)
        return [line.texts for line in found]

    def translate_lines(
        self,
        lines: Sequence[str],
        *,
        first_line: int = 1,
        constraints: Sequence[Sequence[str]] | None = None,
        **options: Any,
    ) -> List[LineTranslation]:
        """pipeline.translate_lines for each line through its route: the lines of one route
        together, leg by leg; the last leg with `constraints` and `options` (glossary, ...)."""
        labels = [f"line {first_line + n}" for n in range(len(lines))]
        routes = [self.route(line, label) for line, label in zip(lines, labels, strict=True)]
        groups: Dict[Tuple[str, ...], List[int]] = {}
        for i, route in enumerate(routes):
            groups.setdefault(route.languages, []).append(i)
        found: List[LineTranslation | None] = [None] * len(lines)
        sizes = {key: options[key] for key in ("batch_size", "max_tokens") if key in options}
        for indices in groups.values():
            route = routes[indices[0]]
            texts = [lines[i] for i in indices]
            for leg in route.legs[:-1]:
                best = leg.with_search(leg.beam, 1)
                texts = [line.texts[0] for line in translate_lines(best, texts, **sizes)]
            wanted = [constraints[i] for i in indices] if constraints is not None else None
            last = translate_lines(
                route.legs[-1], texts, constraints=wanted, labels=[labels[i] for i in indices], **options
            )
            for i, line in zip(indices, last, strict=True):
                found[i] = line
        return found  # type: ignore[return-value]  # every line is in one group


def translate_marked_through(
    route: Route, units: Sequence[Marked], beam: int | None = None, **options: Any
) -> List[Marked]:
    """Marked units (evo_mt.runtime.text.inline) through each leg of `route`, each leg placing
    the marks anew by its own alignments; `beam`: each leg's, else the model's own."""
    found = list(units)
    for leg in route.legs:
        engine = leg if beam is None else leg.with_search(beam, 1)
        found = translate_marked(engine, found, **options)
    return found
