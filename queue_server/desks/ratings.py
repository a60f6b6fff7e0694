"""The ratings desk: who may rate which matter, the secret of each ticket's QR rating link, and the export.

Who rates (a refusal of ``not_finished`` comes first, whoever asks):
- a window node (its rating pad, channel ``pad``) the matters that were finished at its window;
- a kiosk (channel ``kiosk``) the tickets it issued itself, after self-service;
- the public status page behind the ticket's QR code (channel ``web``, no token) with the ticket's
  secret from the link; a manager any matter, on any channel (a paper form typed in).

The secret of a ticket is HMAC-SHA256(hall key, ticket id), 128 bits in hex, so it cannot be guessed
from the id and needs no storage per ticket. The hall key is 32 random bytes in ``rating-links.key``
next to the event log (created on first use with mode 0600, kept across restarts so printed QR codes
stay valid); a store without a file (tests) gets a random key per process. The key never enters the
event log, whose events reach every screen. The public ticket view never shows the secret; the
kiosk's issue answer carries it in ``rating_url``, the link the ticket's QR code prints.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from config.model import Node, NodeRole
from queue_server.answer import Answer, dumps
from queue_server.desks import DeskBase
from queue_server.engine.decision import Decision
from queue_server.engine.errors import QueueError, forbidden
from queue_server.engine.ratings import Rating
from queue_server.engine.state import Ticket

log = logging.getLogger(__name__)

KEY_FILE = "rating-links.key"
SECRET_HEX = 32  # 128 bits of the HMAC
EXPORT_MAX_DAYS = 366
EXPORT_COLUMNS = ("ticket", "number", "service", "service_name", "department", "window", "staff", "level",
                  "channel", "rated_at", "finished_at", "followup", "followup_state", "followup_deadline",
                  "overturned")
EXPORT_DOC = (
    "One row per rating given from `from` to `to` (ISO dates in the hall's zone, inclusive; default today; at most "
    f"{EXPORT_MAX_DAYS} days), in the order given. Columns: `ticket` matter (ticket) id; `number` ticket number; "
    "`service` service code; `service_name`; `department` department code; `window` number of the window that "
    "finished the matter (the last one for a transferred matter); `staff` staff id of who finished it; `level` 1..5 "
    "(5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意); `channel` pad|kiosk|web; `rated_at` and `finished_at` "
    "ISO 8601 local time with offset; `followup` id of the 差评 follow-up case (empty for levels 3-5); "
    "`followup_state` open|contacted|rectified|appealed|closed|overturned; `followup_deadline` ISO date of its last "
    "working day; `overturned` true when an appeal overturned the rating (it then leaves the satisfaction figure). "
    "csv: UTF-8 with a BOM (Excel), a header row, empty cells for none; jsonl: one JSON object per line with these "
    "keys (null for none). Comments are not exported (free text may hold personal data).")


def _load_key(path: Path) -> bytes:
    """The hall's rating-link key from ``path``, created there (0600) on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text().strip()
        return bytes.fromhex(text)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.info("created the rating-link key %s", path)
    return key


class RatingDesk(DeskBase):
    """Rating requests, the QR link's secret and the export; a mixin of HallService."""

    _rating_key: bytes | None = None

    def rating_key(self) -> bytes:
        if self._rating_key is None:
            store_path = getattr(self.store, "path", None)
            self._rating_key = _load_key(Path(store_path).parent / KEY_FILE) if store_path else \
                secrets.token_bytes(32)
        return self._rating_key

    def rating_secret(self, ticket_id: str) -> str:
        return hmac.new(self.rating_key(), ticket_id.encode(), hashlib.sha256).hexdigest()[:SECRET_HEX]

    def rating_url(self, ticket_id: str) -> str:
        """The QR link: the ticket's status page, with the secret that lets it rate the finished matter."""
        return f"{self.hall.public_url}/api/v1/tickets/{ticket_id}?k={self.rating_secret(ticket_id)}"

    def secret_ok(self, ticket_id: str, secret: str | None) -> bool:
        return bool(secret) and hmac.compare_digest(self.rating_secret(ticket_id), secret or "")

    def rating_offer(self, ticket_id: str, secret: str | None) -> dict[str, Any] | None:
        """What the status page offers: the five levels for a finished unrated matter, with a right secret only."""
        ticket = self.engine.find_ticket(ticket_id)
        if ticket is None or not self.secret_ok(ticket_id, secret):
            return None
        if ticket_id in self.engine.ratings.ratings:
            return {"rated": True}
        if self.engine.rating_open(ticket, self.clock()):
            return {"rated": False, "secret": secret}
        return None

    def _may_rate(self, node: Node | None, ticket: Ticket, channel: str, secret: str | None) -> None:
        if node is None:
            if channel != "web" or not self.secret_ok(ticket.id, secret):
                raise QueueError("invalid_rating_link", "评价链接无效", "this rating link is not valid for the "
                                 "ticket (rate from the QR code on the ticket, or with a node's token)", 403)
            return
        own = {NodeRole.WINDOW: "pad", NodeRole.KIOSK: "kiosk"}
        if node.role is NodeRole.MANAGER:
            return
        if node.role not in own:
            raise forbidden(f"「{node.role.value}」角色不能评价", f"role {node.role.value} may not rate")
        if channel != own[node.role]:
            raise QueueError("invalid_channel", "评价渠道与终端不符",
                             f"a {node.role.value} node rates on channel {own[node.role]!r}", 422, {"field": "channel"})
        if node.role is NodeRole.WINDOW:
            window = self.engine.ratings.finishers.get(ticket.id, (ticket.window, "", 0.0))[0]
            if window != node.window:
                raise forbidden(f"{ticket.number} 号不是本窗口办结的",
                                f"ticket {ticket.number} was not finished at window {node.window}")
        elif ticket.issued_by != node.name:
            raise forbidden("取号机只能评价自己出的号", f"kiosk {node.name} did not issue ticket {ticket.number}")

    async def rate(self, node: Node | None, key: str | None, fingerprint: bytes, ticket_id: str, *,
                   level: int, channel: str, comment: str, secret: str | None) -> Answer:
        """Rate one matter (201 with the rating and its follow-up, if one was opened)."""
        engine = self.engine

        def decide(at: float) -> Decision[Rating]:
            ticket = engine.rated_ticket(ticket_id)  # not_finished first, whoever asks
            self._may_rate(node, ticket, channel, secret)
            return engine.rate(ticket_id, level, channel, at, comment=comment, node=node.name if node else "")

        def present(rating: Rating) -> Answer:
            case_id = engine.cases.followup_of.get(rating.ticket)
            followup = engine.cases.cases[case_id] if case_id else None
            return Answer(201, dumps({**rating.as_dict(), "followup": followup_view(followup) if followup else None}))

        return await self.command(decide, present, node=node.name if node else "", key=key, fingerprint=fingerprint)

    # ------------------------------------------------------------------ export
    def export_rows(self, first: str, last: str) -> list[dict[str, Any]]:
        zone = self.engine.calendar.zone
        rows = []
        for r in self.engine.ratings.between(first, last):
            case_id = self.engine.cases.followup_of.get(r.ticket)
            case = self.engine.cases.cases.get(case_id) if case_id else None
            service = self.hall.service(r.service)
            rows.append({
                "ticket": r.ticket, "number": r.number, "service": r.service,
                "service_name": service.name if service else "", "department": r.department, "window": r.window,
                "staff": r.staff or None, "level": r.level, "channel": r.channel,
                "rated_at": dt.datetime.fromtimestamp(r.rated_at, zone).isoformat(timespec="seconds"),
                "finished_at": dt.datetime.fromtimestamp(r.finished_at, zone).isoformat(timespec="seconds"),
                "followup": case.id if case else None, "followup_state": case.state if case else None,
                "followup_deadline": case.deadline if case else None, "overturned": r.overturned})
        return rows

    async def export_ratings(self, first: str, last: str, fmt: str) -> tuple[str, bytes]:
        """The export as (content type, body), built from memory once what it shows is durable."""
        await self.fresh()
        rows = self.export_rows(first, last)
        await self._durable(self.engine.last_event_id)
        if fmt == "jsonl":
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            return "application/x-ndjson", text.encode()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(["" if row[c] is None else str(row[c]).lower() if isinstance(row[c], bool) else row[c]
                             for c in EXPORT_COLUMNS])
        return "text/csv", ("\ufeff" + out.getvalue()).encode()


def followup_view(case: Any) -> dict[str, Any]:
    """A follow-up as the API shows it: the case fields a 差评 follow-up needs."""
    return {"id": case.id, "ticket": case.ticket, "level": case.level, "state": case.state,
            "opened_at": case.opened_at, "deadline": case.deadline, "overdue": case.overdue,
            "department": case.department, "steps": [s.as_dict() for s in case.steps]}
