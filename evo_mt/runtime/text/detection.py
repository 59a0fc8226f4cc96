"""Which language a text is in, among those the models given can translate from.

py3langid (a maintained fork of langid.py: a naive Bayes classifier over byte n-grams, 97
languages, its model inside the package, nothing downloaded) ranks the text twice: among all
its languages, and among the served ones only. The second ranking chooses the language; the
first one decides whether the text is in a language the server does not read at all. The
comparison with other identifiers that led to py3langid is in docs/translation-and-serving.md.

A text is refused (DetectionError) rather than translated as a language it is not:
- when its most likely language overall is one the server cannot translate from, with a
  probability of at least FOREIGN (Spanish text on an English and German server), or
- when no served language reaches SURE among the served ones (too short or mixed to tell).
The thresholds were measured on held-out gettext and toy sentences (docs): with them, the
languages chosen were right for >= 97% of English and German texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

from evo_mt.runtime.base.errors import UserError

FOREIGN = 0.70  # a language not served, this likely overall: the text is refused
SURE = 0.60  # the best served language must be this likely among the served ones


class DetectionError(UserError):
    """A text whose language is not one the server translates from, or cannot be told."""


@dataclass(frozen=True)
class Candidate:
    language: str
    confidence: float  # a probability among the served languages, 0 to 1


def _base(code: str) -> str:
    """The language of a code such as "pt-BR" or "zh_Hant": what the identifier knows."""
    return code.replace("_", "-").split("-")[0].lower()


class LanguageDetector:
    """Detection among `languages` (codes as the models name them)."""

    def __init__(self, languages: Sequence[str]) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.languages = list(dict.fromkeys(languages))
        self._all = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = set(self._all.labels)
        # A language the identifier does not know can never be detected (docs say so).
        self._by_base = {_base(code): code for code in reversed(self.languages) if _base(code) in known}
        self._served = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if self._by_base:
            self._served.set_languages(sorted(self._by_base))

    def candidates(self, text: str) -> List[Candidate]:
        """The served languages the identifier knows, most likely first (`/detect`)."""
        if not self._by_base:
            return []
        ranked = self._served.rank(text)
        return [Candidate(self._by_base[base], probability) for base, probability in ranked]

    def detect(self, text: str) -> Candidate:
        """The served language `text` is in, or DetectionError saying why none is chosen."""
        served = ", ".join(self.languages)
        overall, probability = self._all.classify(text)
        if overall not in self._by_base and probability >= FOREIGN:
            raise DetectionError(
                f"the text looks like {overall} ({probability:.0%} likely), and no model translates "
                f"from it; the models read {served}"
            )
        found = self.candidates(text)
        if not found or found[0].confidence < SURE:
            best = f" (best: {found[0].language}, {found[0].confidence:.0%})" if found else ""
            raise DetectionError(
                f"cannot tell which language the text is in{best}; give \"source\" (one of {served})"
            )
        return found[0]
