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
from typing import Dict, List, Sequence, Tuple

from evo_mt.runtime.base.errors import UserError
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
                    f"{name} and {self.names[pair]} both translate {pair[0]} to {pair[1]}; "
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

    def describe(self) -> str:
        """The pairs served, for errors: "this server translates en to de, fr; de to fr"."""
        reached = "; ".join(f"{source} to {', '.join(self.targets(source))}" for source in self.sources)
        return f"the models translate {reached}"
