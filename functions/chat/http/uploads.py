"""PUT and GET /api/attachments/{key}: the local file store's side of ChatKit's two-phase upload (what S3's presigned
URLs are on AWS). The link is the credential, as a presigned URL's is: signed for one key, type and size, short-lived.
With S3 configured these routes answer 404."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from functions.chat.attachments.policy import unavailable
from functions.chat.attachments.service import not_found, upload_state
from todo_common.errors import ApiError
from todo_common.files.local import ROUTE, LinkRefused, LocalFileStore, link_number, valid_key
from todo_common.web import ServicesDep

# Out of the OpenAPI document: a client never builds these URLs, it follows the links ChatKit's answers give (which
# carry their own credential, not a bearer token), as it would S3's.
router = APIRouter(include_in_schema=False)
_SERVED_HEADERS = {
    "Cache-Control": "private, max-age=600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@router.put(f"{ROUTE}/{{key:path}}", status_code=204, summary="Upload an attachment's bytes (a signed link)")
async def upload(key: str, request: Request, services: ServicesDep) -> Response:
    if not services.settings.attachments:
        raise unavailable()
    store = _local_store(services.files, key)
    query = request.query_params
    mime_type, size = query.get("type", ""), link_number(query.get("size", ""))
    if size is None:
        raise ApiError(403, "invalid_upload_link", "The link is not a signed attachment link.")
    _verified(store, "PUT", key, mime_type, size, query)
    sent = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if sent != mime_type:
        raise ApiError(415, "wrong_content_type", f"This link takes a body of type {mime_type}, not {sent or 'none'}.")
    body = await _body_of_exactly(request, size)
    state = await asyncio.to_thread(upload_state, services.database, key)
    if state is None:
        raise not_found()
    if state != "pending" or store.is_attached(key):
        raise ApiError(409, "attachment_attached", "A message carries this file already; it cannot be replaced.")
    await asyncio.to_thread(store.write, key, body)
    if await asyncio.to_thread(upload_state, services.database, key) is None:
        # Deleted while the bytes were written: its deletion may have removed the file before this wrote it.
        await asyncio.to_thread(store.delete, [key])
        raise not_found()
    return Response(status_code=204)


@router.get(f"{ROUTE}/{{key:path}}", summary="Read an attachment (a signed link: an image's preview)")
async def download(key: str, request: Request, services: ServicesDep) -> Response:
    store = _local_store(services.files, key)
    mime_type = request.query_params.get("type", "")
    _verified(store, "GET", key, mime_type, None, request.query_params)
    content = await asyncio.to_thread(store.read, key, 64 * 1024 * 1024)
    if content is None:
        raise ApiError(404, "not_found", "Nothing was uploaded under this link.")
    return Response(content, media_type=mime_type, headers=_SERVED_HEADERS)


async def _body_of_exactly(request: Request, size: int) -> bytes:
    """The body, read no further than one byte past `size` (the app's body limit leaves this route's body to it): the
    link was signed for that many bytes, as S3's presigned PUT signs its Content-Length."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > size:
            raise ApiError(413, "upload_too_large", f"This link takes exactly {size} bytes; more were sent.")
    if len(body) < size:
        raise ApiError(400, "upload_incomplete", f"This link takes exactly {size} bytes; {len(body)} were sent.")
    return bytes(body)


def _local_store(files: object, key: str) -> LocalFileStore:
    if not isinstance(files, LocalFileStore) or not valid_key(key):
        raise ApiError(404, "not_found", "There is no such route.")
    return files


def _verified(
    store: LocalFileStore, method: str, key: str, mime_type: str, size: int | None, query: QueryParams
) -> None:
    try:
        store.verify(method, key, mime_type, size, query.get("expires", ""), query.get("signature", ""))
    except LinkRefused as refused:
        raise ApiError(403, "invalid_upload_link", str(refused)) from None
