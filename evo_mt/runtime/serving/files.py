"""LibreTranslate's file translation: `POST /translate_file` (a multipart form: `file`,
`source`, `target`, `api_key`) translates a document in its own format
(evo_mt.runtime.text.documents) and answers `{"translatedFileUrl": URL}`; `GET
/download_file/NAME` serves the translation, under the uploaded file's name.

Translations are kept in a temporary folder of the server's own and removed FILE_LIFETIME_S
after they were written (looked for on every upload and download), all of them when the
server stops. Documents are translated one at a time, in a thread beside the batcher's, so
that a long document neither blocks the event loop nor runs beside another document; the key
check and the rate limit are /translate's, and the upload's size limit is `max_file_bytes`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.serving.bodies import api_key, client_address, form_fields, read_body
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.requests import RequestError, choose_languages, form_payload, with_query
from evo_mt.runtime.text.detection import LanguageDetector
from evo_mt.runtime.text.documents.formats import format_for
from evo_mt.runtime.text.inline import Marked
from evo_mt.runtime.text.routing import Catalog, Router

FILE_LIFETIME_S = 30 * 60  # as long as a translated file can be downloaded
DOWNLOADS = "/download_file"  # the translated files' route, each under a name of its own
_STORED = re.compile(r"[0-9a-f]{32}\.[\w.-]{1,200}")  # a stored file's name: token.original-name


class TranslatedFiles:
    """The translated files, each under a name no client can guess (a random token before the
    uploaded file's name), removed `lifetime` seconds after it was written."""

    def __init__(self, lifetime: float = FILE_LIFETIME_S) -> None:
        self.lifetime = lifetime
        self._folder = tempfile.TemporaryDirectory(prefix="evo-mt-files-")  # removed at exit
        self.folder = Path(self._folder.name)

    def add(self, name: str, data: bytes) -> str:
        """Keep `data`, the translation of an upload named `name`; the name it is served under."""
        self.sweep()
        safe = re.sub(r"[^\w.-]", "_", Path(name).name)[-200:].lstrip(".") or "document"
        stored = f"{secrets.token_hex(16)}.{safe}"
        (self.folder / stored).write_bytes(data)
        return stored

    def find(self, stored: str) -> Tuple[Path, str] | None:
        """The file served as `stored` and the name to download it under, or None when there
        is none (never was, or removed)."""
        self.sweep()
        path = self.folder / stored
        if not _STORED.fullmatch(stored) or not path.is_file():
            return None
        return path, stored.split(".", 1)[1]

    def sweep(self) -> None:
        """Remove the files older than the lifetime."""
        oldest = time.time() - self.lifetime
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < oldest:
                    path.unlink()
            except FileNotFoundError:  # another request removed it first
                pass

    def close(self) -> None:
        self._folder.cleanup()


def routes(
    catalog: Catalog, detector: LanguageDetector, access: Access, limits: ServerLimits,
    files: TranslatedFiles | None = None,
) -> List[Route]:
    files = files or TranslatedFiles()
    one_at_a_time = asyncio.Lock()

    async def translate_file(request: Request) -> Response:
        try:
            body = await read_body(request, limits.max_file_bytes)
        except ClientDisconnect:
            return Response(status_code=400)
        fields = await form_fields(request, body)
        texts = [(name, value) for name, value in fields if isinstance(value, str)]
        payload = with_query(form_payload(texts), request.query_params.multi_items())
        access.check(api_key(request, payload), client_address(request))
        source, target = choose_languages(payload, catalog)
        router = Router(catalog, source, target, detector)

        def translate(units: List[Marked]) -> List[Marked]:
            return router.translate_marked(units, batch_size=limits.batch_size)

        uploads = [value for name, value in fields if name == "file" and not isinstance(value, str)]
        if not uploads:
            raise RequestError(400, 'send the document as the field "file" of a multipart form')
        name, data = uploads[0]
        try:
            found = format_for(name)
            async with one_at_a_time:
                translated = await asyncio.to_thread(found.translate, data, translate)
        except UserError as error:  # a damaged document; an undetectable or unrouted language
            raise RequestError(400, f"{Path(name).name}: {error}") from None
        stored = files.add(name, translated)
        return JSONResponse({"translatedFileUrl": str(request.url_for("download_file", name=stored))})

    async def download_file(request: Request) -> Response:
        found = files.find(request.path_params["name"])
        if found is None:
            raise RequestError(
                404, f"no such translated file (each is kept {files.lifetime / 60:g} minutes)"
            )
        path, name = found
        return FileResponse(path, filename=name)

    return [
        Route("/translate_file", translate_file, methods=["POST"]),
        Route(DOWNLOADS + "/{name}", download_file, methods=["GET"], name="download_file"),
    ]
