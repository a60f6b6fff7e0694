"""The hall service's promises with a log whose commits the test holds, fails or damages.

Every answer rests on durable events (commands, refusals and reads alike); an idempotency key durably
answered keeps its answer whatever was cancelled; a damaged log still starts the hall and says what it
found; time acts on a tick; a clock that steps back is logged once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from config.model import Node, NodeRole
from queue_server.answer import Answer
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.service import HallService
from tests.support.engine_kit import new_engine
from tests.support.halls import MONDAY, at, small_hall
from tests.support.memory_store import MemoryStore

TUESDAY = "2026-11-24"
KIOSK = Node("kiosk-1", NodeRole.KIOSK, "0" * 64)
WINDOW_1 = Node("window-1", NodeRole.WINDOW, "1" * 64, window=1)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at(MONDAY, "10:00"))


@pytest.fixture
async def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def service(store: MemoryStore, clock: Clock) -> AsyncIterator[HallService]:
    svc = HallService(small_hall(daily_quota=1), store, clock=clock)
    await svc.start()
    yield svc
    await svc.stop()


async def issue(service: HallService, key: str | None = None, code: str = "A01") -> Answer:
    body = {"service": code}
    return await service.issue(KIOSK, key, json.dumps(body).encode(), service=code, priority="normal",
                               holder_key="", holder_masked="", appointment_id="")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def issued_events(store: MemoryStore) -> list[Any]:
    return [e for e in store.events if e.type == ev.TICKET_ISSUED]


async def test_a_request_cancelled_while_its_events_are_written_keeps_its_one_answer(
        service: HallService, store: MemoryStore, clock: Clock) -> None:
    store.hold()
    first = asyncio.create_task(issue(service, "key-1"))
    await settle()
    first.cancel()  # the kiosk went away (or the server is shutting down) while the commit was in flight
    await settle()
    store.release()
    await settle()
    with pytest.raises(asyncio.CancelledError):
        await first
    retry = await issue(service, "key-1")
    assert retry.status == 201 and len(issued_events(store)) == 1
    assert json.loads(retry.body)["number"] == "A001"
    assert store.records[("kiosk-1", "key-1")].body == retry.body

    restarted = HallService(service.hall, MemoryStore(store.events, list(store.records.values())), clock=clock)
    await restarted.start()
    try:
        assert (await issue(restarted, "key-1")) == retry
    finally:
        await restarted.stop()


async def test_a_concurrent_retry_waits_for_the_first_and_gets_its_answer(
        service: HallService, store: MemoryStore) -> None:
    store.hold()
    first = asyncio.create_task(issue(service, "key-2"))
    second = asyncio.create_task(issue(service, "key-2"))
    await settle()
    assert not first.done() and not second.done()
    store.release()
    assert await first == await second
    assert len(issued_events(store)) == 1


async def test_a_retry_arriving_just_as_the_first_is_written_gets_its_answer(
        service: HallService, store: MemoryStore) -> None:
    """The retry runs after the commit but before the loop has settled memory (seen as a 500 under load)."""
    store.hold()
    first = asyncio.create_task(issue(service, "key-3"))
    await settle()
    store.release()  # durable now; the memory's settle callbacks have not run yet
    retry = await issue(service, "key-3")
    assert retry == await first and retry.status == 201


async def test_a_retry_arriving_after_the_decision_settled_but_before_memory_did_gets_its_answer(
        service: HallService, store: MemoryStore) -> None:
    """One loop turn later than the test above: the decision's future is done, the callback that files its
    answer under the key has not run; the retry must take that answer, not decide a second ticket (seen as
    two tickets for one key under load in test_server_concurrency)."""
    store.hold()
    first = asyncio.create_task(issue(service, "key-4"))
    await settle()
    store.release()
    await asyncio.sleep(0)  # the store's future settled the decision; the service's own callbacks wait their turn
    retry = await issue(service, "key-4")
    assert retry == await first and retry.status == 201
    assert len(issued_events(store)) == 1


async def test_a_read_is_sent_only_once_what_it_shows_is_durable(service: HallService, store: MemoryStore) -> None:
    store.hold()
    issuing = asyncio.create_task(issue(service))
    await settle()
    reading = asyncio.create_task(service.queues())
    await settle()
    assert not reading.done()  # it would show a waiting ticket that a crash now would erase
    store.release()
    queues = json.loads((await reading).body)["queues"]
    assert next(q for q in queues if q["service"] == "A01")["waiting"] == 1
    await issuing


async def test_a_refusal_is_sent_only_once_what_it_rests_on_is_durable(
        service: HallService, store: MemoryStore) -> None:
    store.hold()
    issuing = asyncio.create_task(issue(service))  # the day's only A01 ticket (quota 1)
    await settle()
    refused = asyncio.create_task(issue(service))
    await settle()
    assert not refused.done()
    store.release()
    with pytest.raises(QueueError) as excinfo:
        await refused
    assert excinfo.value.code == "daily_quota_reached"
    assert (await issuing).status == 201


async def test_a_read_whose_basis_cannot_be_written_answers_store_unavailable(
        service: HallService, store: MemoryStore) -> None:
    store.hold()
    store.fail_next = "disk full"
    issuing = asyncio.create_task(issue(service))
    await settle()
    reading = asyncio.create_task(service.queues())
    await settle()
    store.release()
    for task in (issuing, reading):
        with pytest.raises(QueueError) as excinfo:
            await task
        assert excinfo.value.code == "store_unavailable"
    assert (await service.health()).status == 503


async def test_the_tick_opens_the_new_day_in_a_quiet_hall(
        service: HallService, store: MemoryStore, clock: Clock) -> None:
    await issue(service)
    clock.now = at(MONDAY, "23:59:59")
    await service.tick()
    assert service.engine.day == MONDAY
    clock.now = at(TUESDAY, "00:00:01")
    await service.tick()
    rolled = [e for e in store.events if e.type == ev.DAY_ROLLED]  # alerts may follow it in the same tick
    assert rolled[-1].data["to"] == TUESDAY and rolled[-1].at == clock.now
    assert json.loads((await service.queues()).body)["day"] == TUESDAY


async def test_a_clock_stepped_back_is_logged_once(
        service: HallService, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    await issue(service, code="B01")
    clock.now -= 3600
    with caplog.at_level(logging.WARNING, logger="queue_server.service"):
        await issue(service, code="B01")
        await issue(service, code="B01")
    assert [r.message for r in caplog.records].count(next(r.message for r in caplog.records)) == 1
    assert "stepped back" in caplog.records[0].message


async def test_a_damaged_log_starts_the_hall_and_says_what_it_found(clock: Clock) -> None:
    engine = new_engine(small_hall())
    log = []
    log += engine.sign_in(1, "s1", at(MONDAY, "09:00")).events
    log += engine.issue("A01", at(MONDAY, "09:01")).events
    log += engine.issue("A01", at(MONDAY, "09:02")).events
    log += engine.call_next(1, at(MONDAY, "09:03")).events
    hole = next(e for e in log if e.type == ev.TICKET_ISSUED)
    damaged = [e for e in log if e is not hole]  # and the call (of the first ticket) refers to what is missing
    assert damaged[-1].type == ev.TICKET_CALLED and damaged[-1].data["ticket"] == hole.data["ticket"]
    service = HallService(small_hall(), MemoryStore(damaged), clock=clock)
    await service.start()
    try:
        health = json.loads((await service.health()).body)
        assert health["status"] == "ok" and len(health["log_damage"]) == 2
        assert f"events {hole.id}..{hole.id}" in health["log_damage"][0]
        assert "could not be applied" in health["log_damage"][1]
        answer = await issue(service)
        assert answer.status == 201
        assert service.engine.last_event_id == damaged[-1].id + 1  # numbering goes on after the log's last id
    finally:
        await service.stop()


async def test_a_printed_tickets_links_are_absolute_when_the_hall_has_a_public_url(clock: Clock) -> None:
    """A phone scanning the QR code is not on the server: the links carry the hall's public address."""
    hall = dataclasses.replace(small_hall(), public_url="https://hall.qinghe.gov.cn")
    service = HallService(hall, MemoryStore(), clock=clock)
    await service.start()
    try:
        view = json.loads((await issue(service)).body)
        assert view["status_url"] == f"https://hall.qinghe.gov.cn/api/v1/tickets/{view['id']}"
        assert view["rating_url"].startswith(f"https://hall.qinghe.gov.cn/api/v1/tickets/{view['id']}?k=")
    finally:
        await service.stop()
    relative = json.loads((await issue_on(small_hall(), clock)).body)
    assert relative["status_url"] == f"/api/v1/tickets/{relative['id']}"


async def issue_on(hall: Any, clock: Clock) -> Answer:
    service = HallService(hall, MemoryStore(), clock=clock)
    await service.start()
    try:
        return await issue(service)
    finally:
        await service.stop()
