"""The event log behind one small interface, so SQLite (one hall) and PostgreSQL (a city) are swappable.

The promise every store keeps: when ``append`` returns, the events (and the idempotency record that
rides with them) are on disk in one transaction, and ``on_durable`` has been told, in log order.
And fail-stop: once a write fails, the store is ``broken`` and refuses every queued and later write,
so nothing after the failure becomes durable and the log stays gap-free for the next start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from queue_server.engine.events import Event


@dataclass(frozen=True)
class IdempotencyRecord:
    """The answer given to one (node, Idempotency-Key), replayed to a retrying client."""

    node: str
    key: str
    fingerprint: str
    status: int
    body: str
    at: float


class StoreError(Exception):
    """The log could not be written or read; the server stops taking commands (fail-stop)."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached (down, refusing this user, wrong address): nothing was written."""


class UnencodableEvent(StoreError):
    """One job's events or answer cannot be kept as text (a lone surrogate): only that job fails with it."""


class NotDecided(StoreUnavailable):
    """The store could not take its turn to decide (the hall's lock, the catch-up read): nothing was decided
    or written, so the service may answer 503 for these requests alone and try again with the next one."""


@dataclass
class Verdict:
    """What one command decided, made when the store gives it its turn: the events and the answer to keep,
    the outcome to return (or the refusal to raise once the log holds what it rests on)."""

    events: Sequence[Event] = field(default_factory=list)
    record: IdempotencyRecord | None = None
    result: object = None
    error: BaseException | None = None
    basis: int = 0  # the last event id the verdict rests on (it is answered only once that is durable)


# Called at the command's turn with the durable answer already kept for its (node, key), if the store found one
# that this process had not seen (another instance wrote it); must not await: it decides on the engine's memory.
Decider = Callable[[IdempotencyRecord | None], Verdict]
DurableListener = Callable[[Sequence[Event]], None]


class EventStore:
    """Interface; see queue_server/store/sqlite.py (embedded) and postgres.py (a city's database)."""

    on_durable: DurableListener | None = None
    # Events other writers (instances) added to the log, in log order, before this store's next decision or on
    # a wake-up; the service applies what it has not applied yet. Only shared stores ever call it.
    on_catch_up: DurableListener | None = None
    broken: str | None = None  # why the store refuses every write (fail-stop), or None while it writes

    @property
    def where(self) -> str:
        """The log as a technician names it in an error (a path, a URL without its password)."""
        return type(self).__name__

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def follow(self) -> None:
        """From now on (after the replay), tell ``on_catch_up`` what other writers append; nothing to do for a
        store that is its log's only writer."""

    async def refresh(self) -> None:
        """Tell ``on_catch_up`` now what other writers appended (without waiting for a wake-up); nothing to do
        for a store that is its log's only writer."""

    def submit(self, events: Sequence[Event], idempotency: IdempotencyRecord | None = None) -> asyncio.Future[None]:
        """Queue ``events`` for the next commit *now* (so submit order is log order); the future resolves
        when they are durable, or fails with StoreError if that cannot be promised.

        A job that cannot be kept as text fails alone with UnencodableEvent; if it carried events (whose
        ids the engine already counted) the store is broken from there, since anything later would leave a
        gap. A second answer for a (node, key) that already has a durable one is dropped: the first wins.
        """
        raise NotImplementedError

    def decide(self, decider: Decider, slot: tuple[str, str] | None = None) -> asyncio.Future[Verdict]:
        """Run ``decider`` at this store's turn and make its verdict durable; the future gives the verdict.

        How a store serialises decisions is its own: a store that is its log's only writer (SQLite) decides at
        once, on the caller's stack, so submit order is decision order; a log shared by several instances
        (PostgreSQL) decides in its writer, under the hall's lock, after catching up with what the others
        wrote, and looks up the answer kept for ``slot`` (node, key) in the shared records first.
        """
        verdict = decider(None)
        written = self.submit(verdict.events, verdict.record)
        outcome: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[None]) -> None:
            if outcome.done():
                return
            if done.cancelled():
                outcome.cancel()
            elif done.exception() is not None:
                outcome.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                outcome.set_result(verdict)

        written.add_done_callback(settle)
        return outcome

    async def append(self, events: Sequence[Event], idempotency: IdempotencyRecord | None = None) -> None:
        """Write ``events`` durably in one transaction; raise StoreError if that cannot be promised."""
        await self.submit(events, idempotency)

    async def read_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        """Events with id > after_id in log order, at most ``limit``."""
        raise NotImplementedError

    async def load_idempotency(self, since: float) -> list[IdempotencyRecord]:
        """Idempotency records written at or after ``since`` (the retry horizon)."""
        raise NotImplementedError

    async def prune_idempotency(self, before: float) -> int:
        """Delete idempotency records written before ``before`` (past the horizon); returns how many.

        Bounded work per transaction, serialised with commits and off the event loop. Raises StoreError
        when the store is closed or broken, or when a prune fails (which does not break the store).
        """
        raise NotImplementedError
