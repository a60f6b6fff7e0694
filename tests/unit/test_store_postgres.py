"""What only the PostgreSQL store has: its own schema migration, and a reader that survives a lost session."""

from __future__ import annotations

import asyncio
import os
import signal

import psycopg
import pytest

from queue_server.engine.events import Event
from queue_server.store.base import IdempotencyRecord, StoreError
from queue_server.store.postgres import MIGRATIONS, PostgresStore
from queue_server.store.url import PostgresUrl
from tests.support.postgres import PgServer, PrivateCluster


def event(id_: int) -> Event:
    return Event(id_, "window.paused", 1_800_000_000.0 + id_, {"window": 1}, node="pad-1")


def schema_versions(url: str) -> list[tuple[int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT version FROM servicehall_schema").fetchall()


async def test_servers_starting_at_once_on_an_empty_database_migrate_it_once(pg_url: str) -> None:
    stores = [PostgresStore(PostgresUrl.parse(pg_url)) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert schema_versions(pg_url) == [(len(MIGRATIONS),)]
        await stores[0].append([event(1), event(2)])
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    reopened = PostgresStore(PostgresUrl.parse(pg_url))
    await reopened.open()
    try:
        assert schema_versions(pg_url) == [(len(MIGRATIONS),)]
        await reopened.append([event(3)])  # the log continues where it stood
        with pytest.raises(StoreError, match="gap"):
            await reopened.append([event(5)])
        assert [e.id for e in await reopened.read_after(0)] == [1, 2, 3]
    finally:
        await reopened.close()


async def test_reads_carry_on_after_the_database_dropped_the_readers_session(pg_server: PgServer, pg_url: str,
                                                                            ) -> None:
    """A replay page or a WebSocket catch-up promises nothing durable, so it may simply reconnect; the writer,
    whose session went too, fail-stops on its next write."""
    store = PostgresStore(PostgresUrl.parse(pg_url))
    await store.open()
    try:
        await store.append([event(1)])
        assert await asyncio.to_thread(pg_server.terminate_servicehall, pg_url) == 2
        assert [e.id for e in await store.read_after(0)] == [1]
        with pytest.raises(StoreError, match="could not be written"):
            await store.append([event(2)])
        assert store.broken
        assert [e.id for e in await store.read_after(0)] == [1]
    finally:
        await store.close()


async def test_a_commit_that_never_answers_breaks_the_store_after_the_write_timeout(
        private_cluster: PrivateCluster) -> None:
    """A partitioned network, made by freezing the writer's backend (SIGSTOP): the batch is refused after
    ``write_timeout_s``; whether it landed is unknown, so nothing after it is written, and a new store (a
    restart) continues from whatever the database holds."""
    url = private_cluster.url
    store = PostgresStore(PostgresUrl.parse(url), write_timeout_s=1.0)
    await store.open()
    frozen: int | None = None
    try:
        await store.append([event(1)])
        frozen = writer_backend(url)
        os.kill(frozen, signal.SIGSTOP)
        with pytest.raises(StoreError, match=r"no (COMMIT|turn) within 1 s"):
            await asyncio.wait_for(store.append([event(2)]), 30)
        assert store.broken
        with pytest.raises(StoreError, match="broken"):
            await store.append([event(3)])
    finally:
        if frozen is not None:
            os.kill(frozen, signal.SIGCONT)
        await asyncio.wait_for(store.close(), 30)
    reopened = PostgresStore(PostgresUrl.parse(url))
    await reopened.open()
    try:
        landed = [e.id for e in await reopened.read_after(0)]
        assert landed in ([1], [1, 2])
        await reopened.append([event(landed[-1] + 1)])
    finally:
        await reopened.close()


def writer_backend(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'servicehall writer'").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_single_hall_database_of_schema_1_migrates_and_keeps_its_log(pg_url: str) -> None:
    """A database written before halls existed: its rows become the hall '' a single-hall server uses."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE servicehall_schema (version INTEGER NOT NULL)")
        conn.execute(MIGRATIONS[0])  # type: ignore[arg-type]  # our own constant
        conn.execute("INSERT INTO servicehall_schema VALUES (1)")
        conn.execute("INSERT INTO events VALUES (1, 'window.paused', 1, 1.0, 'pad-1', '', '{\"window\": 1}')")
        conn.execute("INSERT INTO idempotency VALUES ('kiosk-1', 'k1', 'f', 201, '{}', 1.0)")
    store = PostgresStore(PostgresUrl.parse(pg_url))
    await store.open()
    try:
        assert schema_versions(pg_url) == [(len(MIGRATIONS),)]
        assert [e.id for e in await store.read_after(0)] == [1]
        assert [r.key for r in await store.load_idempotency(0.0)] == ["k1"]
        await store.append([event(2)])
    finally:
        await store.close()


async def test_halls_in_one_database_keep_their_own_contiguous_logs(pg_url: str) -> None:
    stores = {hall: PostgresStore(PostgresUrl.parse(pg_url), hall=hall) for hall in ("east", "west")}
    await asyncio.gather(*(s.open() for s in stores.values()))
    try:
        await stores["east"].append([event(1), event(2)])
        await stores["west"].append([event(1)])  # the same id in another hall: its own log, no conflict
        await stores["east"].append([event(3)], IdempotencyRecord("kiosk-1", "k", "f", 201, "{}", 1.0))
        with pytest.raises(StoreError, match="gap"):
            await stores["west"].append([event(3)])
        assert [e.id for e in await stores["east"].read_after(0)] == [1, 2, 3]
        assert [r.key for r in await stores["east"].load_idempotency(0.0)] == ["k"]
    finally:
        await asyncio.gather(*(s.close() for s in stores.values()))
    west = PostgresStore(PostgresUrl.parse(pg_url), hall="west")
    await west.open()
    try:
        assert [e.id for e in await west.read_after(0)] == [1]
        assert await west.load_idempotency(0.0) == []
    finally:
        await west.close()
