"""The one language pair a model translates, named as LibreTranslate's /languages names it."""

from dataclasses import dataclass
from typing import Dict, List

from iso639 import Lang
from iso639.exceptions import InvalidLanguageValue


def language_name(code: str) -> str:
    """The English name of an ISO 639 code ("de": "German"; a region or script after "-" is
    left out); the code itself when unknown."""
    base = code.replace("_", "-").split("-")[0].lower()
    try:
        return Lang(base).name
    except InvalidLanguageValue:
        return code


@dataclass(frozen=True)
class LanguagePair:
    source: str
    target: str

    def describe(self) -> str:
        return f"{self.source} ({language_name(self.source)}) to {self.target} ({language_name(self.target)})"

    def languages(self) -> List[Dict]:
        """LibreTranslate's /languages: each language, and those it translates into."""
        return [
            {"code": self.source, "name": language_name(self.source), "targets": [self.target]},
            {"code": self.target, "name": language_name(self.target), "targets": []},
        ]
