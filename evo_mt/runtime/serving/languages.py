"""The languages of the served models, named as LibreTranslate's /languages names them."""

from typing import Dict, List

from iso639 import Lang
from iso639.exceptions import InvalidLanguageValue

from evo_mt.runtime.text.routing import Catalog


def language_name(code: str) -> str:
    """The English name of an ISO 639 code ("de": "German"; a region or script after "-" is
    left out); the code itself when unknown."""
    base = code.replace("_", "-").split("-")[0].lower()
    try:
        return Lang(base).name
    except InvalidLanguageValue:
        return code


def language(code: str) -> Dict[str, str]:
    return {"code": code, "name": language_name(code)}


def languages(catalog: Catalog) -> List[Dict]:
    """LibreTranslate's /languages: every language, with the languages it translates into
    (directly or through a pivot); a language only translated into has no targets."""
    sources = catalog.sources
    targets = {target for source in sources for target in catalog.targets(source)}
    codes = sources + sorted(targets - set(sources))
    return [{**language(code), "targets": catalog.targets(code) if code in sources else []} for code in codes]
