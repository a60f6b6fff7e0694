"""Group commit shared by every store: what a batch may write, and how its waiters are told.

SQLite (a writer thread) and PostgreSQL (a writer task) differ only in how a transaction reaches the disk;
the promises around it are one mechanism, kept here so both stores keep them the same way: a job whose text
cannot be stored fails alone (and breaks the store if it carried event ids), an event id that does not
continue the log breaks the store, the first durable answer for a key wins, the durable listener hears
batches in log order before any waiter wakes, and fail-stop is said once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from queue_server.engine.events import Event
from queue_server.store.base import Decider, EventStore, IdempotencyRecord, StoreError, UnencodableEvent, Verdict

log = logging.getLogger(__name__)

Row = tuple[Any, ...]  # (id, type, v, at, node, staff, data) as every store's events table holds it
Outcome = tuple["asyncio.Future[Any]", BaseException | None, object]
TextCheck = Callable[[str], None]  # raises ValueError for text the store cannot keep


@dataclass
class Write:
    """Events (and the answer riding with them) to make durable in one transaction."""

    events: Sequence[Event]
    record: IdempotencyRecord | None
    done: asyncio.Future[Any]
    result: Verdict | None = None  # what the waiter is given once durable (a decided job's verdict)


@dataclass
class Decide:
    """A command to decide at the writer's turn (a shared log's: under the hall's lock, after catch-up)."""

    decider: Decider
    slot: tuple[str, str] | None
    done: asyncio.Future[Verdict]


@dataclass
class Prune:
    """A prune in progress: one bounded chunk per turn, then back in the queue behind waiting commits."""

    before: float
    done: asyncio.Future[int]
    deleted: int = 0


Job = Write | Decide | Prune


@dataclass
class Plan:
    """One batch checked before its transaction: what to write, and the waiters already answered."""

    ready: list[Write] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    next_id: int = 1

    @property
    def records(self) -> list[IdempotencyRecord]:
        return [job.record for job in self.ready if job.record is not None]


def runs(jobs: list[Job]) -> list[list[Write | Decide] | Prune]:
    """The jobs taken in one turn, in order: each run of writes is one batch, a prune chunk in its place."""
    out: list[list[Write | Decide] | Prune] = []
    batch: list[Write | Decide] = []
    for job in jobs:
        if not isinstance(job, Prune):
            batch.append(job)
            continue
        if batch:
            out.append(batch)
            batch = []
        out.append(job)
    if batch:
        out.append(batch)
    return out


def utf8_text(text: str) -> None:
    """SQLite keeps text as UTF-8: a lone surrogate would fail at bind time, inside the batch's transaction."""
    text.encode("utf-8")


class GroupCommitStore(EventStore):
    """The bookkeeping of a group-committing store; a subclass owns the writer and the transaction."""

    check_text: TextCheck = staticmethod(utf8_text)

    def __init__(self) -> None:
        self.broken: str | None = None
        self._closing = False  # set by close() before the writer stops: no new job from then on

    def _writing(self) -> bool:
        """Whether the subclass's writer (a thread, a task) is running."""
        raise NotImplementedError

    def _enqueue(self, job: Job) -> None:
        """Hand a job to the writer, in submit order (the log's order)."""
        raise NotImplementedError

    def _refusal(self) -> StoreError | None:
        """Why a new job cannot be queued, if it cannot."""
        if not self._writing() or self._closing:
            return StoreError("the event log is closed")
        if self.broken is not None:
            return self._broken_error()
        return None

    def submit(self, events: Sequence[Event], idempotency: IdempotencyRecord | None = None) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refusal = self._refusal()
        if refusal is not None:
            done.set_exception(refusal)
        elif not events and idempotency is None:
            done.set_result(None)
        else:
            self._enqueue(Write(events, idempotency, done))
        return done

    async def prune_idempotency(self, before: float) -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        refusal = self._refusal()
        if refusal is not None:
            raise refusal
        self._enqueue(Prune(before, done))
        return await done

    def _break(self, reason: str, detail: str = "") -> None:
        """From now on every write is refused (fail-stop); said once."""
        if self.broken is None:
            self.broken = reason
            log.critical("the event log %s refuses every write until the server is restarted: %s%s",
                         self.where, reason, detail)

    def _broken_error(self) -> StoreError:
        return StoreError(broken_message(self.broken or ""))

    def _plan(self, batch: list[Write], last_id: int) -> Plan:
        """Check every job of the batch in log order; refused jobs get their outcome now."""
        plan = Plan(next_id=last_id + 1)
        for job in batch:
            if self.broken is not None:
                plan.outcomes.append((job.done, self._broken_error(), None))
                continue
            try:
                job_rows = encode(job, self.check_text)
            except UnencodableEvent as err:
                plan.outcomes.append((job.done, err, None))
                if job.events:  # the engine has counted these ids: anything written after them would be a gap
                    self._break(f"{err}; nothing after it can be written without a gap")
                continue
            ids = [e.id for e in job.events]
            if ids != list(range(plan.next_id, plan.next_id + len(ids))):
                self._break(f"events {ids[0]}…{ids[-1]} would leave a gap after event {plan.next_id - 1}")
                plan.outcomes.append((job.done, self._broken_error(), None))
                continue
            plan.ready.append(job)
            plan.rows.extend(job_rows)
            plan.next_id += len(ids)
        return plan

    def _failed(self, plan: Plan, err: BaseException) -> None:
        """The batch's transaction failed: not durable, and the store is broken from here on."""
        self._break(f"a write failed: {err}", f"; {len(plan.ready)} requests refused")
        plan.outcomes += [(job.done, StoreError(f"the event log could not be written: {err}"), None)
                          for job in plan.ready]

    def _committed(self, plan: Plan, ignored: list[tuple[str, str]]) -> list[Sequence[Event]]:
        """The batch is durable: every ready waiter succeeds; returns the events for the listener."""
        for node, key in ignored:
            log.warning("idempotency key %r of node %s already has a durable answer; the first is kept", key, node)
        plan.outcomes += [(job.done, None, job.result) for job in plan.ready]
        return [job.events for job in plan.ready if job.events]

    def _settle(self, durable: list[Sequence[Event]], outcomes: list[Outcome]) -> None:
        """In the loop thread: tell the listener in log order, then wake the waiters."""
        if self.on_durable is not None:
            for events in durable:
                try:
                    self.on_durable(events)
                except Exception:  # a listener's bug must not leave requests waiting for durable events
                    log.exception("the durable-events listener failed")
        for done, error, result in outcomes:
            if done.done():
                continue
            if error is None:
                done.set_result(result)
            else:
                done.set_exception(error)


def encode(job: Write, check_text: TextCheck = utf8_text) -> list[Row]:
    """The job's event rows, checked to be storable text before the transaction (one bad job fails alone)."""
    rows: list[Row] = []
    for e in job.events:
        try:
            row = (e.id, e.type, e.v, e.at, e.node, e.staff, e.data_json())
            _check_fields(row, check_text)
        except (ValueError, TypeError) as err:  # UnicodeEncodeError is a ValueError
            raise UnencodableEvent(f"event {e.id} ({e.type}) cannot be stored: {why(err)}") from err
        rows.append(row)
    r = job.record
    if r is not None:
        try:
            _check_fields((r.node, r.key, r.fingerprint, r.body), check_text)
        except ValueError as err:
            raise UnencodableEvent(f"the answer to node {r.node}'s request cannot be stored: {why(err)}") from err
    return rows


def _check_fields(fields: Sequence[object], check_text: TextCheck) -> None:
    for value in fields:
        if isinstance(value, str):
            check_text(value)


def why(err: Exception) -> str:
    """The reason without the text itself (which may be a citizen's name)."""
    if isinstance(err, UnicodeEncodeError):
        return f"{err.reason} (character {err.start} of a text field)"
    return str(err)


def broken_message(reason: str) -> str:
    return f"the event log is broken and refuses writes until the server is restarted ({reason})"
