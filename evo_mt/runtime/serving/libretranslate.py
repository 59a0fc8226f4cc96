"""LibreTranslate's API beside /translate: /languages, /detect, /frontend/settings, and the
answer of /suggest that a LibreTranslate server gives when an operator has turned it off; plus
the shape of a /translate answer to a `q` request. Its file translation is
evo_mt.runtime.serving.files.

/detect and `source: "auto"` identify the language among those the server translates from
(evo_mt.runtime.text.detection); confidences are 0 to 100, as LibreTranslate gives them.
"""

from dataclasses import dataclass
from typing import Any, Dict, List

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evo_mt.runtime.serving.bodies import api_key, client_address, read_payload
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.languages import language, languages
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.requests import RequestError, TranslateRequest, parse_detect
from evo_mt.runtime.text import routing
from evo_mt.runtime.text.detection import Candidate, LanguageDetector
from evo_mt.runtime.text.documents.formats import extensions
from evo_mt.runtime.text.routing import Catalog

FRONTEND_TIMEOUT_MS = 500  # how long LibreTranslate's page waits after typing before it translates


@dataclass(frozen=True)
class Routed:
    """A text's way through the models, and its language when it was detected."""

    route: routing.Route
    detected: Candidate | None = None


def confidence(candidate: Candidate) -> Dict[str, Any]:
    return {"confidence": round(candidate.confidence * 100, 1), "language": candidate.language}


def detected(routed: Routed) -> Dict[str, Any] | None:
    return confidence(routed.detected) if routed.detected is not None else None


def translate_answer(
    request: TranslateRequest, results: List[List[str]], warnings: List[str], routed: List[Routed]
) -> Dict[str, Any]:
    """LibreTranslate's answer: `translatedText` (a string or a list, as `q` was),
    `alternatives` when asked, `detectedLanguage` for `source: "auto"`; and evo-mt's `warnings`
    and `route` (the languages each text went through: source, pivot if any, target)."""
    best, alternatives, start = [], [], 0
    for count in request.counts:
        lines = results[start : start + count]
        start += count
        text = "\n".join(hypotheses[0] for hypotheses in lines)
        others = ("\n".join(hypotheses[n] for hypotheses in lines) for n in range(1, request.nbest))
        best.append(text)
        alternatives.append(_unique(others, text))
    answer: Dict[str, Any] = {"translatedText": best[0] if request.single else best}
    if request.nbest > 1:
        answer["alternatives"] = alternatives[0] if request.single else alternatives
    if request.source_auto:
        found = [detected(text) for text in routed]
        answer["detectedLanguage"] = found[0] if request.single else found
    languages_taken = [list(text.route.languages) for text in routed]
    answer["route"] = languages_taken[0] if request.single else languages_taken
    answer["warnings"] = warnings
    return answer


def _unique(texts, best: str) -> List[str]:
    """The texts that differ from the best and from each other (two hypotheses may differ in
    subwords yet read alike), empty ones left out, as LibreTranslate lists alternatives."""
    seen, kept = {best, ""}, []
    for text in texts:
        if text not in seen:
            seen.add(text)
            kept.append(text)
    return kept


def routes(catalog: Catalog, detector: LanguageDetector, access: Access, limits: ServerLimits) -> List[Route]:
    async def list_languages(_request: Request) -> Response:
        return JSONResponse(languages(catalog))

    async def detect(request: Request) -> Response:
        payload = await read_payload(request, limits.max_body_bytes)
        access.check(api_key(request, payload), client_address(request))
        texts = parse_detect(payload)
        answers = [[confidence(found) for found in detector.candidates(text)] for text in texts]
        return JSONResponse(answers[0] if isinstance(payload.get("q"), str) else answers)

    first = next(iter(catalog.models))

    async def frontend_settings(_request: Request) -> Response:
        return JSONResponse(
            {
                "charLimit": limits.max_chars,
                "frontendTimeout": FRONTEND_TIMEOUT_MS,
                "apiKeys": access.keys is not None,
                "keyRequired": access.key_required,
                "suggestions": False,
                "filesTranslation": True,
                "supportedFilesFormat": extensions(),
                # The page's first choice: the first model's pair.
                "language": {"source": language(first[0]), "target": language(first[1])},
            }
        )

    async def suggest(_request: Request) -> Response:
        raise RequestError(403, "this server takes no suggestions")

    return [
        Route("/languages", list_languages, methods=["GET"]),
        Route("/detect", detect, methods=["POST"]),
        Route("/frontend/settings", frontend_settings, methods=["GET"]),
        Route("/suggest", suggest, methods=["POST"]),
    ]
