"""Every event store on its own, one test body for SQLite and PostgreSQL: fail-stop after a failed batch, text it
cannot keep, first answers, pruning, closing.

Each test opens a real store (a file in tmp_path, or a database of the test's own); faults come from a second
session holding the write lock (as another process would) or from what the store is handed, never from a mock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from queue_server.engine.events import Event
from queue_server.store.base import IdempotencyRecord, StoreError, UnencodableEvent
from queue_server.store.batch import GroupCommitStore
from tests.support.stores import PostgresKit, SqliteKit, StoreKit

STAGE_S = 0.1  # staging only (lets the writer pick up the job before the next submit); never asserted


def event(id_: int, **data: object) -> Event:
    return Event(id_, "window.paused", 1_800_000_000.0 + id_, dict(data) or {"window": 1}, node="pad-1")


def record(key: str, body: str = '{"ok":true}', at: float = 1.8e9, node: str = "kiosk-1") -> IdempotencyRecord:
    return IdempotencyRecord(node, key, "f" * 64, 201, body, at)


@pytest.fixture(params=["sqlite", "postgresql"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> StoreKit:
    if request.param == "sqlite":
        return SqliteKit(tmp_path / "events.sqlite3")
    return PostgresKit(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(kit: StoreKit) -> AsyncIterator[GroupCommitStore]:
    opened = kit.make(lock_timeout_s=0.5)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_failed_batch_breaks_the_store_and_nothing_queued_behind_it_becomes_durable(
        store: GroupCommitStore, kit: StoreKit) -> None:
    await store.append([event(1)])
    with kit.write_lock() as holder:
        failing = store.submit([event(2)])
        await asyncio.sleep(STAGE_S)  # the writer now waits for the lock with event 2
        behind = store.submit([event(3)], record("k3"))
        with pytest.raises(StoreError, match=kit.lock_failure):
            await failing
        holder.release()  # the lock goes away while event 3 is queued: it must not commit
    with pytest.raises(StoreError):
        await behind
    assert store.broken and kit.lock_failure in store.broken
    with pytest.raises(StoreError, match="broken"):
        await store.submit([event(2)])
    with pytest.raises(StoreError, match="broken"):
        await store.prune_idempotency(2e9)
    assert kit.ids() == [1]
    assert kit.records() == {}


async def test_an_event_that_would_leave_a_gap_is_refused_and_breaks_the_store(
        store: GroupCommitStore, kit: StoreKit) -> None:
    await store.append([event(1)])
    with pytest.raises(StoreError, match="gap"):
        await store.append([event(3)])
    assert store.broken
    assert kit.ids() == [1]


async def test_an_event_that_cannot_be_encoded_fails_its_own_job_and_nothing_after_it(
        store: GroupCommitStore, kit: StoreKit) -> None:
    """Jobs before it in the batch commit; the engine already counted its id, so any later event would leave a gap."""
    await store.append([event(1)])
    with kit.write_lock() as holder:
        first = store.submit([event(2)])
        await asyncio.sleep(STAGE_S)
        before = store.submit([event(3)], record("k3"))
        bad = store.submit([event(4, reason="\ud800")], record("k4"))
        after = store.submit([event(5)], record("k5"))
        holder.release()
    await first
    await before
    with pytest.raises(UnencodableEvent, match="event 4"):
        await bad
    with pytest.raises(StoreError):
        await after
    assert store.broken and "event 4" in store.broken
    assert kit.ids() == [1, 2, 3]
    assert set(kit.records()) == {("kiosk-1", "k3")}


async def test_an_answer_that_cannot_be_encoded_fails_only_its_own_job(store: GroupCommitStore, kit: StoreKit) -> None:
    """An idempotency record without events carries no log position: the batch and the store go on."""
    with kit.write_lock() as holder:
        first = store.submit([event(1)])
        await asyncio.sleep(STAGE_S)
        bad = store.submit([], record("bad", body='{"name":"王*\ud800"}'))
        after = store.submit([event(2)], record("k2"))
        holder.release()
    await first
    with pytest.raises(UnencodableEvent):
        await bad
    await after
    assert store.broken is None
    await store.append([event(3)])
    assert kit.ids() == [1, 2, 3]
    assert set(kit.records()) == {("kiosk-1", "k2")}


async def test_the_first_durable_answer_for_a_key_is_never_overwritten(
        store: GroupCommitStore, kit: StoreKit, caplog) -> None:
    await store.append([event(1)], record("k", body='{"number":"A001"}'))
    with caplog.at_level(logging.WARNING, logger="queue_server.store.batch"):
        await store.append([event(2)], record("k", body='{"number":"A002"}'))
    assert kit.records() == {("kiosk-1", "k"): '{"number":"A001"}'}
    assert kit.ids() == [1, 2]  # the events are the log's truth and stay
    assert "already has a durable answer" in caplog.text and "A00" not in caplog.text
    # Two answers for one key in one batch: the first in log order wins as well.
    with kit.write_lock() as holder:
        first = store.submit([event(3)])
        await asyncio.sleep(STAGE_S)
        one = store.submit([event(4)], record("same", body="one"))
        two = store.submit([event(5)], record("same", body="two"))
        holder.release()
    await asyncio.gather(first, one, two)
    assert kit.records()[("kiosk-1", "same")] == "one"
    assert [r.body for r in await store.load_idempotency(0) if r.key == "same"] == ["one"]


async def test_prune_deletes_records_before_the_horizon_in_bounded_transactions(kit: StoreKit) -> None:
    store = kit.make(prune_chunk_rows=3)
    await store.open()
    try:
        for i in range(10):
            await store.append([], record(f"old-{i}", at=1000.0 + i))
        await store.append([event(1)], record("new", at=5000.0))
        await store.append([], record("old", node="kiosk-2", at=1500.0))
        pruning = asyncio.ensure_future(store.prune_idempotency(2000.0))
        commits = [store.submit([event(i)], record(f"during-{i}", at=6000.0)) for i in range(2, 6)]
        await asyncio.gather(*commits)
        assert await pruning == 11
        assert await store.prune_idempotency(2000.0) == 0
        assert sorted(r.key for r in await store.load_idempotency(0)) == [
            "during-2", "during-3", "during-4", "during-5", "new"]
        assert kit.ids() == [1, 2, 3, 4, 5]
    finally:
        await store.close()


async def test_a_closed_store_refuses_and_nothing_queued_waits_forever(kit: StoreKit) -> None:
    store = kit.make()
    await store.open()
    queued = store.submit([event(1)])
    await store.close()
    await queued  # queued before the close: written
    with pytest.raises(StoreError, match="closed"):
        await store.submit([event(2)])
    with pytest.raises(StoreError, match="closed"):
        await store.prune_idempotency(1.0)
    assert kit.ids() == [1]


async def test_a_nul_character_is_kept_where_the_store_can_and_refused_alone_where_it_cannot(
        store: GroupCommitStore, kit: StoreKit) -> None:
    """SQLite keeps NUL in text; PostgreSQL's text cannot: there the answer fails alone and the store goes on."""
    answer = store.submit([], record("nul", body="a\x00b"))
    if kit.name == "sqlite":
        await answer
        assert kit.records() == {("kiosk-1", "nul"): "a\x00b"}
    else:
        with pytest.raises(UnencodableEvent, match="NUL"):
            await answer
        assert kit.records() == {}
    await store.append([event(1)], record("k1"))
    assert store.broken is None
    assert kit.ids() == [1]


async def test_what_is_written_reads_back_exactly(store: GroupCommitStore) -> None:
    """Times to the last bit, 4-byte characters, quotes, backslashes and escaped control characters in JSON."""
    odd = {"holder_masked": "𬌗*", "reason": 'a "quoted" \\ back\\slash', "escaped": "\x00\x1f", "n": 0.1}
    written = [Event(1, "window.paused", 1_800_000_000.123456789, odd, node="pad-𠀾", staff="s001"),
               Event(2, "window.paused", 0.1 + 0.2, {"window": 1}, node="pad-1")]
    answer = IdempotencyRecord("kiosk-1", "k-𬌗", "f" * 64, 201, '{"name":"王*","at":1.5}', 1_800_000_000.987654321)
    await store.append(written, answer)
    read = await store.read_after(0)
    assert [(e.id, e.type, e.v, e.at, e.node, e.staff, e.data) for e in read] == [
        (e.id, e.type, e.v, e.at, e.node, e.staff, e.data) for e in written]
    assert await store.load_idempotency(0) == [answer]
