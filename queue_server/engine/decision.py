"""The one result type of every engine command: what was decided, and the events that record it.

A command either returns a ``Decision`` (its outcome plus the events it emitted, already applied to the
picture) or raises a ``QueueError`` whose ``events`` are those emitted before the refusal (a day
roll-over, the implicit finish of the ticket being served). Either way the caller makes the events
durable before it answers, so no answer rests on a change a crash could erase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from queue_server.engine.events import Event
from queue_server.engine.state import Ticket

T = TypeVar("T")


@dataclass(frozen=True)
class Decision(Generic[T]):
    """A command's outcome and its events, in log order."""

    outcome: T
    events: list[Event]


class Issued(NamedTuple):
    """The outcome of ``issue``: the ticket, and whether it is the holder's open ticket again (a reprint)."""

    ticket: Ticket
    existing: bool
