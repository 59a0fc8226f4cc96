"""Glossaries: source terms whose translation is prescribed.

A glossary file is UTF-8 text, one term a line: the source term, a tab, its target term
(either may hold several words). Empty lines and lines starting with "#" are skipped. A
source term matches a sentence case-insensitively as whole words (not inside a longer word;
any run of spaces between its words); where terms overlap, the longest match at the leftmost
place wins. Each matched term's target becomes a required phrase of that sentence
(evo_mt.runtime.search.constrained_search); a sentence without any term translates as without the
glossary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.lines import read_lines


class GlossaryError(UserError):
    """A glossary that cannot be used; the message names the file and line (or entry)."""


@dataclass(frozen=True)
class Term:
    source: str
    target: str


class Glossary:
    """Source terms to target terms, matched in sentences."""

    def __init__(self, terms: List[Tuple[str, str, str]]) -> None:
        """`terms`: (source, target, place) triples; `place` names the term in errors
        ("FILE:LINE", "glossary entry N")."""
        self.terms: Dict[str, Term] = {}
        for source, target, place in terms:
            source, target = " ".join(source.split()), " ".join(target.split())
            if not source or not target:
                raise GlossaryError(f"{place}: an empty {'source' if not source else 'target'} term")
            key = source.casefold()
            if key in self.terms and self.terms[key].target != target:
                earlier = self.terms[key].target
                raise GlossaryError(
                    f"{place}: {source!r} already has the target {earlier!r}; one target a term"
                )
            self.terms[key] = Term(source, target)
        # One alternation, longest terms first: at a place, the longest term matches.
        ordered = sorted(self.terms, key=len, reverse=True)
        words = (r"\s+".join(map(re.escape, term.split())) for term in ordered)
        alternation = "|".join(words)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE) if ordered else None

    @classmethod
    def load(cls, path: Path | str) -> Glossary:
        """The glossary of a TSV file; a GlossaryError "FILE:LINE: ..." for a line that is not one."""
        terms: List[Tuple[str, str, str]] = []
        for number, line in enumerate(read_lines(Path(path)), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise GlossaryError(
                    f"{path}:{number}: not 'source term<TAB>target term' ({len(fields)} tab-separated fields)"
                )
            terms.append((fields[0], fields[1], f"{path}:{number}"))
        return cls(terms)

    @classmethod
    def from_request(cls, value: Any) -> Glossary:
        """A request's glossary: {"source": "target", ...} or [["source", "target"], ...]."""
        if isinstance(value, dict):
            pairs = list(value.items())
        elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
            pairs = [tuple(p) for p in value]
        else:
            raise GlossaryError("glossary must be an object of terms or a list of [source, target] pairs")
        if not all(isinstance(s, str) and isinstance(t, str) for s, t in pairs):
            raise GlossaryError("glossary terms must be strings")
        return cls([(s, t, f"glossary entry {number}") for number, (s, t) in enumerate(pairs, 1)])

    def __len__(self) -> int:
        return len(self.terms)

    def merged_into(self, base: Glossary | None) -> Glossary:
        """`base`'s terms with this glossary's (this one wins where both have a term)."""
        if base is None:
            return self
        terms = {**base.terms, **self.terms}
        return Glossary([(t.source, t.target, "glossary") for t in terms.values()])

    def find(self, sentence: str) -> List[Term]:
        """The terms of `sentence`, in order of first occurrence, each once."""
        if self._pattern is None:
            return []
        found: Dict[str, Term] = {}
        for match in self._pattern.finditer(sentence):
            key = " ".join(match.group(0).split()).casefold()
            found.setdefault(key, self.terms[key])
        return list(found.values())
