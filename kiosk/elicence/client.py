"""The kiosk's client of the e-licence library (电子证照库): list a holder's documents, fetch one to print.

The library is a separate service; its base URL is the hall's ``elicence_url``. Documents are asked for by
holder key (the HMAC of the ID number, never the number itself) and a document is fetched only together
with its holder's key, so a kiosk cannot print someone else's proof by guessing an id. Every failure is an
``ELicenceError`` whose message says what happened and what to do, with ``unreachable`` telling a
connection problem (retry later) from a refusal (nothing to retry).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import aiohttp

log = logging.getLogger(__name__)

__all__ = ["Document", "ELicenceClient", "ELicenceError"]

_MAX_BODY_BYTES = 1 << 20


class ELicenceError(Exception):
    """The library did not give what was asked; ``unreachable`` when no answer came at all (retry later)."""

    def __init__(self, message: str, *, unreachable: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.status = status


@dataclass(frozen=True)
class Document:
    """One document as the library's API gives it (a list and a single fetch give the same record)."""

    id: str
    kind: str  # 参保证明 …: what the citizen picks and the print log records
    kind_en: str
    title: str
    department: str
    serial: str
    issued: dt.date
    verify_url: str  # what the printed QR code holds
    headings: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    paragraphs: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The wire form (the simulator answers with it; ``from_json`` reads it back)."""
        return {"id": self.id, "kind": self.kind, "kind_en": self.kind_en, "title": self.title,
                "department": self.department, "serial": self.serial, "issued": self.issued.isoformat(),
                "verify_url": self.verify_url, "headings": list(self.headings), "rows": [list(r) for r in self.rows],
                "paragraphs": list(self.paragraphs)}

    @classmethod
    def from_json(cls, data: Any) -> Document:
        """Parse strictly: a malformed record is an ELicenceError naming the field, not a KeyError later."""
        if not isinstance(data, Mapping):
            raise ELicenceError("the e-licence library sent a document that is not an object")

        def text(name: str) -> str:
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise ELicenceError(f"the e-licence library sent a document without a valid {name!r}")
            return value

        def texts(name: str) -> tuple[str, ...]:
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ELicenceError(f"the e-licence library sent a document whose {name!r} is not a list of text")
            return tuple(value)

        rows = data.get("rows", [])
        if not isinstance(rows, list) or not all(isinstance(r, list) and all(isinstance(c, str) for c in r)
                                                 for r in rows):
            raise ELicenceError("the e-licence library sent a document whose 'rows' is not a table of text")
        try:
            issued = dt.date.fromisoformat(text("issued"))
        except ValueError as err:
            raise ELicenceError("the e-licence library sent a document with a bad 'issued' date") from err
        return cls(id=text("id"), kind=text("kind"), kind_en=str(data.get("kind_en") or ""), title=text("title"),
                   department=text("department"), serial=text("serial"), issued=issued,
                   verify_url=text("verify_url"), headings=texts("headings"), rows=tuple(tuple(r) for r in rows),
                   paragraphs=texts("paragraphs"))


class ELicenceClient:
    """Talks to the library at ``base_url``; an async context manager (one HTTP session for the node's run)."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"e-licence library URL {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            # a new connection per request: a kiosk asks rarely, and a kept-alive socket would hide a library
            # that went down (and make aiohttp silently retry a dropped request)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

    async def close(self) -> None:
        """Idempotent."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def documents(self, holder_key: str) -> list[Document]:
        """The holder's documents, 参保证明 first as the library lists them; empty when the holder has none."""
        body = await self._get("/documents", {"holder": holder_key})
        items = body.get("documents")
        if not isinstance(items, list):
            raise ELicenceError("the e-licence library sent a list without 'documents'")
        return [Document.from_json(item) for item in items]

    async def document(self, holder_key: str, document_id: str) -> Document:
        """One document of the holder, in full (for printing)."""
        if not document_id or "/" in document_id:
            raise ELicenceError(f"document id {document_id!r} is not valid")
        return Document.from_json(await self._get(f"/documents/{document_id}", {"holder": holder_key}))

    async def _get(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        if self._session is None:
            raise ELicenceError("the e-licence client is closed; open it first")
        url = f"{self.base_url}{path}"
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._session.get(url, params=params) as reply:
                    raw = await reply.content.read(_MAX_BODY_BYTES)
                    status = reply.status
        except TimeoutError as err:
            raise ELicenceError(f"the e-licence library at {self.base_url} gave no answer within "
                                f"{self.timeout_s:g} s; try again later", unreachable=True) from err
        except aiohttp.ClientError as err:
            raise ELicenceError(f"the e-licence library at {self.base_url} cannot be reached ({err}); check the "
                                "network or ask the hall's technician", unreachable=True) from err
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as err:
            raise ELicenceError(f"the e-licence library answered HTTP {status} with a body that is not JSON",
                                status=status, unreachable=status >= 500) from err
        if status >= 500:
            raise ELicenceError(f"the e-licence library failed (HTTP {status}); try again later", status=status,
                                unreachable=True)
        if status != 200 or not isinstance(body, Mapping):
            said = body.get("error", {}).get("message") if isinstance(body, Mapping) else None
            raise ELicenceError(f"the e-licence library refused: {said or f'HTTP {status}'}", status=status)
        log.debug("e-licence %s answered %d", path.split("/")[1], status)
        return body
