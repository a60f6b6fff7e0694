"""The service's façade, one desk per domain (appointments, ratings and cases, figures, alerts, nodes, audit).

A desk is a mixin of ``HallService``: its methods are what the routes call, and they run engine
commands through ``self.command`` / ``self.run`` (durable before answering, idempotent per key) and
answer reads through ``self.read`` (sent once what they show is durable). Every desk derives from
``DeskBase``, which declares (for mypy only) what a desk may use of the service; mypy checks the
service's real definitions against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from config.model import Hall, Staff
    from queue_server.answer import Answer
    from queue_server.engine.decision import Decision
    from queue_server.engine.engine import QueueEngine
    from queue_server.store.base import EventStore
    from queue_server.ws.hub import Hub

T = TypeVar("T")


class DeskBase:
    """What a desk uses of HallService (declarations only: the service provides them)."""

    if TYPE_CHECKING:
        hall: Hall
        store: EventStore
        engine: QueueEngine
        hub: Hub
        clock: Callable[[], float]
        broken: str | None
        last_durable_id: int
        _staff: dict[str, Staff]
        _decoy_pin_hash: str

        async def command(self, decide: Callable[[float], Decision[Any]], present: Callable[[Any], Answer], *,
                          node: str = "", key: str | None = None, fingerprint: bytes = b"") -> Answer: ...

        async def run(self, decide: Callable[[float], Decision[T]]) -> T: ...

        async def read(self, present: Callable[[], Answer]) -> Answer: ...

        async def _durable(self, event_id: int) -> None: ...

        async def fresh(self) -> None: ...

        def _now(self) -> float: ...

        def rating_url(self, ticket_id: str) -> str: ...  # RatingDesk's: the QR link a printed ticket carries
