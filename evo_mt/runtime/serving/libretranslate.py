"""LibreTranslate's API beside /translate: /languages, /detect, /frontend/settings, and the
answer of /suggest that a LibreTranslate server gives when an operator has turned it off; plus
the shape of a /translate answer to a `q` request. Its file translation is
evo_mt.runtime.serving.files.

evo-mt identifies no language: /detect and `source: "auto"` name the one language the model
reads, with confidence 0 (nothing was measured), rather than a made-up certainty.
"""

from typing import Any, Dict, List

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evo_mt.runtime.serving.bodies import api_key, client_address, read_payload
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.languages import LanguagePair, language_name
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.requests import RequestError, TranslateRequest, parse_detect
from evo_mt.runtime.text.documents.formats import extensions

FRONTEND_TIMEOUT_MS = 500  # how long LibreTranslate's page waits after typing before it translates


def assumed_language(pair: LanguagePair) -> Dict[str, Any]:
    return {"confidence": 0.0, "language": pair.source}


def translate_answer(
    request: TranslateRequest, results: List[List[str]], warnings: List[str], pair: LanguagePair
) -> Dict[str, Any]:
    """LibreTranslate's answer: `translatedText` (a string or a list, as `q` was),
    `alternatives` when asked, `detectedLanguage` for `source: "auto"`; and evo-mt's `warnings`."""
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
        detected = assumed_language(pair)
        answer["detectedLanguage"] = detected if request.single else [detected] * len(best)
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


def routes(pair: LanguagePair, access: Access, limits: ServerLimits) -> List[Route]:
    async def languages(_request: Request) -> Response:
        return JSONResponse(pair.languages())

    async def detect(request: Request) -> Response:
        payload = await read_payload(request, limits.max_body_bytes)
        access.check(api_key(request, payload), client_address(request))
        texts = parse_detect(payload)
        answer = [assumed_language(pair)]
        return JSONResponse(answer if len(texts) == 1 else [answer] * len(texts))

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
                "language": {
                    "source": {"code": pair.source, "name": language_name(pair.source)},
                    "target": {"code": pair.target, "name": language_name(pair.target)},
                },
            }
        )

    async def suggest(_request: Request) -> Response:
        raise RequestError(403, "this server takes no suggestions")

    return [
        Route("/languages", languages, methods=["GET"]),
        Route("/detect", detect, methods=["POST"]),
        Route("/frontend/settings", frontend_settings, methods=["GET"]),
        Route("/suggest", suggest, methods=["POST"]),
    ]
