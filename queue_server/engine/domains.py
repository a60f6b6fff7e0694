"""The hall's picture beyond tickets and windows, one domain per concern (appointments, cases, alerts …).

A domain keeps its own state, changed only by its own event types (``handlers``), may watch every
event after it is applied (``observe``: figures and alert conditions), and may decide timer-driven
events on the service's tick (``tick``: no-shows, overdue cases, alerts). It is pure like the rest of
the engine: it reads the picture and emits through the engine, so a replay gives the same state.

To add a domain: subclass ``Domain`` in its own module under queue_server/engine/, create it in
``HallPicture.__init__`` with ``self.x = self._add(X(self))`` (a typed attribute), and put its commands
in a mixin class of ``QueueEngine`` (engine.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from queue_server.engine.events import Event

if TYPE_CHECKING:
    from queue_server.engine.engine import QueueEngine
    from queue_server.engine.picture import HallPicture


class Domain:
    """One concern's part of the picture. ``handlers`` maps an event type to the method that applies it."""

    name: ClassVar[str] = ""
    handlers: ClassVar[dict[str, Callable[..., None]]] = {}

    def __init__(self, picture: HallPicture) -> None:
        self.picture = picture

    def observe(self, event: Event) -> None:
        """Every event, after it was applied (own types included). Default: nothing."""

    def observes(self, type_: str) -> bool:
        """Whether ``observe`` needs events of this type; asked once per type (replay skips the rest). Default: all."""
        return True

    def tick(self, engine: QueueEngine, at: float) -> None:
        """Emit what time alone decides at ``at`` (through ``engine._emit``). Default: nothing."""

