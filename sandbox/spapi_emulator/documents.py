"""Report and feed documents behind presigned, S3-like URLs that the emulator serves itself.

Amazon hands out document URLs that point at S3 and expire after 5 minutes; S3 then answers with XML, not
SP-API JSON. Reproduced here:

- ``GET /_documents/<id>?expires=<epoch>&signature=<hmac>`` downloads a report or feed-result document;
  after expiry (emulated time) it is ``403 AccessDenied`` "Request has expired", a tampered URL is
  ``403 SignatureDoesNotMatch``, an unknown key ``404 NoSuchKey``;
- gzip documents are served as stored bytes with no ``Content-Encoding`` (the client must gunzip, as the
  ``compressionAlgorithm: GZIP`` field tells it) unless the URL was issued with
  ``enableContentEncodingUrlHeader=true``, which adds ``Content-Encoding: gzip``;
- ``PUT /_documents/<id>?...`` uploads a feed document; the ``Content-Type`` must be the one given to
  createFeedDocument (it is part of the S3 signature).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import not_found
from sandbox.spapi_emulator.params import bool_parameter, iso
from sandbox.spapi_emulator.routes import Access, Route

DOWNLOAD: Final = "documents.download"
UPLOAD: Final = "documents.upload"
DOCUMENTS_PATH: Final = "/_documents"
URL_LIFETIME: Final = timedelta(minutes=5)  # "This URL expires after 5 minutes."


@dataclass
class Document:
    document_id: str
    content_type: str
    created: datetime
    content: bytes | None = None  # as stored: gzip bytes when compressed
    compressed: bool = False
    uploads: int = 0

    @property
    def compression_algorithm(self) -> str | None:
        return "GZIP" if self.compressed else None

    def text(self) -> str:
        """The document as text (gunzipped if needed); empty when nothing was uploaded."""
        data = self.content or b""
        if self.compressed:
            data = gzip.decompress(data)
        return data.decode("utf-8")


@dataclass
class DocumentStore:
    ctx: EmulatorContext
    _documents: dict[str, Document] = field(default_factory=dict)
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def reset(self) -> None:
        with self.ctx.lock:
            self._documents.clear()

    def create(
        self, document_id: str, content_type: str, content: bytes | None = None, *, gzip_it: bool = False
    ) -> Document:
        if content is not None and gzip_it:
            content = gzip.compress(content, mtime=0)
        document = Document(document_id, content_type, self.ctx.now(), content, compressed=gzip_it)
        with self.ctx.lock:
            self._documents[document_id] = document
        return document

    def create_from_lines(self, document_id: str, content_type: str, lines: Iterable[str]) -> Document:
        """A gzip document compressed while `lines` is consumed: large reports never sit in memory whole."""
        compressor = _StreamingGzip()
        for line in lines:
            compressor.write(line.encode("utf-8"))
        document = Document(document_id, content_type, self.ctx.now(), compressor.finish(), compressed=True)
        with self.ctx.lock:
            self._documents[document_id] = document
        return document

    def get(self, document_id: str) -> Document | None:
        with self.ctx.lock:
            return self._documents.get(document_id)

    def url(self, document_id: str, *, content_encoding_header: bool = False) -> str:
        """A presigned URL valid for 5 minutes of emulated time."""
        expires = int((self.ctx.now() + URL_LIFETIME).timestamp())
        query = {"expires": str(expires)}
        if content_encoding_header:
            query["response-content-encoding"] = "gzip"
        query["signature"] = self._sign(document_id, query)
        return f"{self.ctx.base_url()}{DOCUMENTS_PATH}/{document_id}?{urlencode(query)}"

    def describe(
        self, request: EmulatorRequest, id_field: str, document_id: str, what: str
    ) -> EmulatorResponse:
        """getReportDocument / getFeedDocument: the document id, a fresh presigned URL and, for compressed
        documents, ``compressionAlgorithm`` (``enableContentEncodingUrlHeader=true`` adds Content-Encoding)."""
        document = self.get(document_id)
        if document is None:
            raise not_found(f"{what} {document_id} was not found.")
        encoding_header = bool(bool_parameter(request, "enableContentEncodingUrlHeader"))
        body: dict[str, Any] = {
            id_field: document_id,
            "url": self.url(document_id, content_encoding_header=encoding_header),
        }
        if document.compression_algorithm:
            body["compressionAlgorithm"] = document.compression_algorithm
        return EmulatorResponse.json(200, body)

    def routes(self) -> list[Route]:
        template = DOCUMENTS_PATH + "/{documentId}"
        return [
            Route(DOWNLOAD, "GET", template, Access.NONE, self.download, None, amazon_headers=False),
            Route(UPLOAD, "PUT", template, Access.NONE, self.upload, None, amazon_headers=False),
        ]

    # --- the S3 side ------------------------------------------------------------------------------------
    def download(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        document, refused = self._authorise(request, path["documentId"])
        if refused is not None:
            return refused
        assert document is not None
        headers = {"Content-Type": f"{document.content_type}; charset=UTF-8", "ETag": _etag(document.content)}
        if document.compressed and request.query_value("response-content-encoding") == "gzip":
            headers["Content-Encoding"] = "gzip"
        return EmulatorResponse(200, document.content or b"", headers)

    def upload(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        document, refused = self._authorise(request, path["documentId"])
        if refused is not None:
            return refused
        assert document is not None
        sent_type = request.headers.get("content-type", "")
        # Why this matters: the upload URL is signed for the contentType given to createFeedDocument; S3
        # refuses a PUT whose Content-Type differs, which is a classic first-feed failure.
        if sent_type.split(";")[0].strip().lower() != document.content_type.split(";")[0].strip().lower():
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        with self.ctx.lock:
            document.content = request.body
            document.uploads += 1
        return EmulatorResponse(200, b"", {"ETag": _etag(request.body)})

    def _authorise(
        self, request: EmulatorRequest, document_id: str
    ) -> tuple[Document | None, EmulatorResponse | None]:
        query = {name: values[0] for name, values in request.query.items() if values}
        signature = query.pop("signature", "")
        if not hmac.compare_digest(signature, self._sign(document_id, query)):
            return None, s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = self.ctx.now()
        expires = datetime.fromtimestamp(int(query["expires"]), tz=now.tzinfo)
        if now >= expires:
            return None, s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                {
                    "X-Amz-Expires": str(int(URL_LIFETIME.total_seconds())),
                    "Expires": iso(expires),
                    "ServerTime": iso(now),
                },
            )
        document = self.get(document_id)
        if document is None:
            return None, s3_error(404, "NoSuchKey", "The specified key does not exist.", {"Key": document_id})
        return document, None

    def _sign(self, document_id: str, query: Mapping[str, str]) -> str:
        message = document_id + "?" + urlencode(sorted(query.items()))
        return hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def s3_error(
    status: int, code: str, message: str, extra: Mapping[str, str] | None = None
) -> EmulatorResponse:
    """S3's XML error document (what a client sees when a presigned URL is refused)."""
    request_id = secrets.token_hex(8).upper()
    parts = [f"<Code>{escape(code)}</Code>", f"<Message>{escape(message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in (extra or {}).items()]
    parts += [f"<RequestId>{request_id}</RequestId>", f"<HostId>{secrets.token_urlsafe(48)}</HostId>"]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    return EmulatorResponse(status, body.encode("utf-8"), headers)


def _etag(content: bytes | None) -> str:
    return '"' + hashlib.md5(content or b"", usedforsecurity=False).hexdigest() + '"'


class _StreamingGzip:
    """gzip.compress for an iterable of chunks, holding only the compressed output."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._file = gzip.GzipFile(fileobj=self._buffer, mode="wb", mtime=0)

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def finish(self) -> bytes:
        self._file.close()
        return self._buffer.getvalue()
