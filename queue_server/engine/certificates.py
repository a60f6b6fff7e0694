"""自助证照打印 on the log: each certificate a kiosk printed (or failed to print) is one ``certificate.printed``.

The server does not print or hold the document; the kiosk reports what happened at its printer so the hall's
figures and audit know how many proofs went out, of which kind, and how many failed (jam, paper out). One
event type with an ``outcome`` (printed | failed), like ``ticket.printed`` with ``ok``, so every reader counts
one kind of event. The holder is recorded only masked (张*): a report carrying a full name or anything like
an ID number is refused before it reaches the log.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event

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

    def view(self) -> dict[str, Any]:
        return {"print": self.id, "kind": self.kind, "outcome": self.outcome, "reason": self.reason, "at": self.at}


class CertificateLedger(Domain):
    """Today's certificate prints per (kind, outcome), for figures and the hall's summary; reset at day roll."""

    name = "certificates"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.today: Counter[tuple[str, str]] = Counter()

    def _on_printed(self, e: Event) -> None:
        self.today[(e.data["document_kind"], e.data["outcome"])] += 1

    handlers: ClassVar = {ev.CERTIFICATE_PRINTED: _on_printed}

    def observes(self, type_: str) -> bool:
        return type_ == ev.DAY_ROLLED

    def observe(self, event: Event) -> None:
        if event.type == ev.DAY_ROLLED:
            self.today.clear()

    def count(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.today.items() if o == outcome)


def masked_enough(holder_masked: str) -> bool:
    """A masked name keeps at most its first character (张*, 欧阳**); never a run of digits (an ID number)."""
    text = holder_masked.strip()
    return len(text) <= 32 and (len(text) < 2 or text[1:] == "*" * (len(text) - 1)) and not _DIGITS.search(text)


class CertificateCommands(CommandBase):
    """Engine command of certificate prints (a mixin of QueueEngine)."""

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
        return CertificatePrint(print_id, kind.strip(), outcome, reason, at)
