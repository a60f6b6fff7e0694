"""ServerClient's retry rules against a small in-process HTTP server that misbehaves on purpose.

The server here answers 503 (or drops the connection) a given number of times before answering, and
records every Idempotency-Key it saw, so a test reads as: "two refusals, then an answer, all under one key".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from kiosk.flows.events import ServerAnswer, ServerUnreachable
from kiosk.server_client import Answer, RetryPolicy, ServerClient, Unreachable, as_flow_event

FAST = RetryPolicy(attempts=4, first_delay_s=0.001, max_delay_s=0.01, timeout_s=5.0)


@dataclass
class Flaky:
    """What the test server does: fail ``fail`` times with ``how`` ("503", "drop", "429"), then answer."""

    fail: int = 0
    how: str = "503"
    status: int = 201
    seen: list[tuple[str, str | None, str]] = field(default_factory=list)  # (path, key, authorization)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, Flaky]]:
    plan = Flaky()

    async def handler(request: web.Request) -> web.StreamResponse:
        plan.seen.append((request.path, request.headers.get("Idempotency-Key"),
                          request.headers.get("Authorization", "")))
        if plan.fail > 0:
            plan.fail -= 1
            if plan.how == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            status = 429 if plan.how == "429" else 503
            return web.json_response({"error": {"code": "log_unavailable", "message_zh": "暂不可用",
                                                 "message_en": "try again"}}, status=status,
                                     headers={"Retry-After": "0"})
        if request.path.endswith("/refuse"):
            return web.json_response({"error": {"code": "quota_full", "message_zh": "今日号已发完",
                                                "message_en": "today's quota is used up"}}, status=409)
        if request.path.endswith("/html"):
            return web.Response(status=500, text="<html>oops</html>", content_type="text/html")
        return web.json_response({"id": "t1", "number": "A001"}, status=plan.status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", plan
    finally:
        await runner.cleanup()


async def test_a_success_is_one_request_with_the_token_and_a_key(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    async with ServerClient(url, "tok-1", policy=FAST) as client:
        result = await client.issue_ticket({"service": "A"}, key="k-1")
    assert isinstance(result, Answer) and result.ok and result.status == 201
    assert result.body["number"] == "A001" and result.key == "k-1"
    assert plan.seen == [("/api/v1/tickets", "k-1", "Bearer tok-1")]


async def test_retries_after_503_keep_the_original_key(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    plan.fail = 2
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.report_printed("t1", key="orig-key")
    assert isinstance(result, Answer) and result.ok
    assert [key for _, key, _ in plan.seen] == ["orig-key"] * 3


async def test_a_dropped_connection_is_retried_under_the_same_key(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    plan.fail, plan.how = 1, "drop"
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.rate("t1", 2, key="rate-key")
    assert isinstance(result, Answer) and result.ok
    assert [key for _, key, _ in plan.seen] == ["rate-key", "rate-key"]


async def test_a_mutating_request_without_key_gets_one_and_keeps_it(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    plan.fail, plan.how = 1, "429"
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.call_next(3)
    assert isinstance(result, Answer) and result.ok and result.key
    keys = {key for _, key, _ in plan.seen}
    assert keys == {result.key} and len(plan.seen) == 2


async def test_a_heartbeat_is_repeatable_and_carries_no_key(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    plan.fail = 1
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.heartbeat("kiosk-1")
    assert isinstance(result, Answer) and result.ok and result.key is None
    assert [(path, key) for path, key, _ in plan.seen] == [("/api/v1/nodes/kiosk-1/health", None)] * 2


async def test_reads_carry_no_key(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.ticket("t1")
    assert isinstance(result, Answer) and result.ok and result.key is None
    assert plan.seen[0][1] is None


async def test_retries_are_bounded_and_end_unreachable(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    plan.fail = 100
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.issue_ticket({"service": "A"}, key="k")
    assert isinstance(result, Unreachable) and not result.ok
    assert result.attempts == FAST.attempts and len(plan.seen) == FAST.attempts
    assert "503" in result.reason and result.key == "k"


async def test_a_refusal_is_an_answer_with_words_and_is_not_retried(flaky: tuple[str, Flaky]) -> None:
    url, plan = flaky
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.request("POST", "/refuse", {}, key="k")
    assert isinstance(result, Answer) and not result.ok and result.status == 409
    assert (result.code, result.message_zh, result.message_en) == ("quota_full", "今日号已发完",
                                                                   "today's quota is used up")
    assert "今日号已发完" in result.words() and "{" not in result.words()
    assert len(plan.seen) == 1


async def test_a_non_json_error_page_still_becomes_an_error_answer(flaky: tuple[str, Flaky]) -> None:
    url, _ = flaky
    async with ServerClient(url, "tok", policy=FAST) as client:
        result = await client.request("GET", "/html")
    assert isinstance(result, Answer) and result.status == 500 and result.code == "http_500"


async def test_nobody_listening_is_unreachable_in_words() -> None:
    from tests.integration.server_support import free_port

    sleeps: list[float] = []

    async def record(delay: float) -> None:
        sleeps.append(delay)

    policy = RetryPolicy(attempts=5, first_delay_s=0.1, max_delay_s=0.3)
    async with ServerClient(f"http://127.0.0.1:{free_port()}", "tok", policy=policy, sleep=record) as client:
        result = await client.node_health("kiosk-1", [])
    assert isinstance(result, Unreachable) and "cannot connect" in result.reason
    assert sleeps == [0.1, 0.2, 0.3, 0.3]  # doubling, capped, none after the last try


def test_backoff_honours_retry_after_within_the_cap() -> None:
    policy = RetryPolicy(first_delay_s=0.5, max_delay_s=4.0)
    assert policy.delay(1) == 0.5 and policy.delay(3) == 2.0 and policy.delay(9) == 4.0
    assert policy.delay(1, retry_after_s=3.0) == 3.0 and policy.delay(1, retry_after_s=60.0) == 4.0


def test_results_become_the_flows_events() -> None:
    assert as_flow_event(Unreachable("down", "k"), "k") == ServerUnreachable("k", "down")
    answer = as_flow_event(Answer(201, {"number": "A1"}, "k"), "k")
    assert isinstance(answer, ServerAnswer) and answer.ok and answer.body["number"] == "A1"


async def test_close_is_idempotent() -> None:
    client = ServerClient("http://127.0.0.1:1", "tok")
    await client.close()
    await client.close()
    await asyncio.sleep(0)
