"""自助证照打印 on the log: each certificate a kiosk printed (or failed to print) is one ``certificate.printed``.

The server does not print or hold the document; the kiosk reports what happened at its printer so the hall's
figures and audit know how many proofs went out, of which kind, and how many failed (jam, paper out). One
event type with an ``outcome`` (printed | failed), like ``ticket.printed`` with ``ok``, so every reader counts
one kind of event. The holder is recorded only masked (张*): a report carrying a full name or anything like
an ID number is refused before it reaches the log.

A delivered print is a finished self-service matter, so it may be rated once (``certificate.rated``, 好差评
as for a ticket: five levels, within ``ratings.window_hours``, a bad rating opens a follow-up case). Today's
prints are kept so a rating finds its print; a print from before the day roll can no longer be rated.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.case_commands import CaseCommands
from queue_server.engine.commands import command
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError, not_found
from queue_server.engine.events import Event
from queue_server.engine.rating_commands import refuse_bad_rating
from queue_server.engine.ratings import BAD_LEVELS, LEVEL_ZH

OUTCOMES = ("printed", "failed")
FAILURE_REASONS = ("paper_out", "jam", "offline", "library", "other")  # kiosk/flows/events.py CertificateFault
_DIGITS = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class CertificatePrint:
    """One reported print, as the API answers it."""

    id: str
    kind: str
    outcome: str
    reason: str
    at: float

    holder_masked: str = ""
    level: int | None = None  # its rating, once given

    def view(self) -> dict[str, Any]:
        return {"print": self.id, "kind": self.kind, "outcome": self.outcome, "reason": self.reason, "at": self.at,
                "level": self.level}


class CertificateLedger(Domain):
    """Today's certificate prints per (kind, outcome), for figures and the hall's summary; reset at day roll."""

    name = "certificates"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.today: Counter[tuple[str, str]] = Counter()
        self.prints: dict[str, CertificatePrint] = {}  # today's, by id

    def _on_printed(self, e: Event) -> None:
        d = e.data
        self.today[(d["document_kind"], d["outcome"])] += 1
        self.prints[d["print"]] = CertificatePrint(d["print"], d["document_kind"], d["outcome"], d["reason"], e.at,
                                                   d["holder_masked"])

    def _on_rated(self, e: Event) -> None:
        record = self.prints.get(e.data["print"])
        if record is not None:
            self.prints[record.id] = replace(record, level=e.data["level"])

    handlers: ClassVar = {ev.CERTIFICATE_PRINTED: _on_printed, ev.CERTIFICATE_RATED: _on_rated}

    def observes(self, type_: str) -> bool:
        return type_ == ev.DAY_ROLLED

    def observe(self, event: Event) -> None:
        if event.type == ev.DAY_ROLLED:
            self.today.clear()
            self.prints.clear()

    def count(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.today.items() if o == outcome)


def masked_enough(holder_masked: str) -> bool:
    """A masked name keeps at most its first character (张*, 欧阳**); never a run of digits (an ID number)."""
    text = holder_masked.strip()
    return len(text) <= 32 and (len(text) < 2 or text[1:] == "*" * (len(text) - 1)) and not _DIGITS.search(text)


class CertificateCommands(CaseCommands):
    """Engine commands of certificate prints (a mixin of QueueEngine; a bad rating opens a case)."""

    @command
    def log_certificate_print(self, kind: str, holder_masked: str, outcome: str, reason: str, at: float, *,
                              node: str = "") -> CertificatePrint:
        """Record one print attempt reported by a kiosk; a failure needs its reason, a success has none."""
        if not kind.strip():
            raise QueueError("invalid_kind", "证照种类不能为空", "kind (the document kind, e.g. 参保证明) is required",
                             422, {"field": "kind"})
        if outcome not in OUTCOMES:
            raise QueueError("invalid_outcome", "打印结果无效", f"outcome must be one of {', '.join(OUTCOMES)}", 422,
                             {"field": "outcome"})
        if outcome == "failed" and reason not in FAILURE_REASONS:
            raise QueueError("invalid_reason", "打印失败原因无效",
                             f"a failed print needs reason, one of {', '.join(FAILURE_REASONS)}", 422,
                             {"field": "reason"})
        if outcome == "printed" and reason:
            raise QueueError("invalid_reason", "打印成功不应附带失败原因", "a printed certificate has no reason", 422,
                             {"field": "reason"})
        if not masked_enough(holder_masked):
            raise QueueError("holder_not_masked", "持证人姓名须脱敏（如 张*）",
                             "holder_masked must be the masked name (first character, then *), never a full "
                             "name or an ID number", 422, {"field": "holder_masked"})
        print_id = self._new_id()
        self._emit(ev.CERTIFICATE_PRINTED, at, {"print": print_id, "document_kind": kind.strip(),
                                                 "holder_masked": holder_masked.strip(), "outcome": outcome,
                                                 "reason": reason}, node)
        return self.certificates.prints[print_id]

    @command
    def rate_certificate_print(self, print_id: str, level: int, channel: str, at: float, *,
                               node: str = "") -> CertificatePrint:
        """Rate a delivered print once, within the hall's rating window; levels 1 and 2 open its follow-up."""
        record = self.certificates.prints.get(print_id)
        if record is None:
            raise not_found("打印记录", "certificate print", "print_not_found")
        if record.outcome != "printed":
            raise QueueError("not_printed", "该证明未打印成功，不能评价", "only a delivered certificate can be rated",
                             409)
        if record.level is not None:
            raise QueueError("already_rated", "该次打印已评价过", "this print was already rated; a matter is rated "
                             "once", 409)
        hours = self.hall.ratings.window_hours
        if at - record.at > hours * 3600:
            raise QueueError("rating_expired", f"打印已超过 {hours:g} 小时，不能再评价",
                             f"the print was more than {hours:g} hours ago; the rating window is closed", 409,
                             {"window_hours": hours})
        refuse_bad_rating(level, channel)
        self._emit(ev.CERTIFICATE_RATED, at, {"print": print_id, "document_kind": record.kind, "level": level,
                                               "channel": channel}, node)
        if level in BAD_LEVELS:
            self._open_case("followup", at, ticket=None, level=level, holder_masked=record.holder_masked,
                            subject=f"自助证照打印「{record.kind}」差评（{LEVEL_ZH[level]}）整改",
                            category="bad_rating", department="", node=node)
        return self.certificates.prints[print_id]
