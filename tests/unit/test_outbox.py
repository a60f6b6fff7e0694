"""The outbox: durable before the first try, in order, each item under its own key, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kiosk.outbox import Outbox
from kiosk.server_client import Answer, Result, Unreachable
from tests.support.waiting import until


class Server:
    """A stand-in for the network: answers per plan and records (path, key, body) of every request."""

    def __init__(self) -> None:
        self.up = True
        self.refuse: set[str] = set()
        self.token_refused = False
        self.sent: list[tuple[str, str | None, dict[str, Any]]] = []

    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                      key: str | None = None) -> Result:
        self.sent.append((path, key, dict(body or {})))
        if not self.up:
            return Unreachable("cannot connect (Connection refused)", key)
        if self.token_refused:
            return Answer(401, {"error": {"code": "unauthorized", "message_zh": "需要有效的令牌",
                                          "message_en": "the token is not one of this hall's nodes"}}, key)
        if path in self.refuse:
            return Answer(409, {"error": {"code": "bad_state", "message_zh": "状态不允许", "message_en": "no"}}, key)
        return Answer(200, {}, key)


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Outbox]:
    outbox = await Outbox.open(tmp_path)
    try:
        yield outbox
    finally:
        await outbox.close()


async def _put_three(box: Outbox) -> None:
    await box.put("printed", "POST", "/api/v1/tickets/t1/printed", {}, "k1")
    await box.put("rating", "POST", "/api/v1/tickets/t1/rating", {"level": 1, "channel": "kiosk"}, "k2")
    await box.put("health", "POST", "/api/v1/nodes/kiosk-1/health", {"devices": []}, "k3")


async def test_delivers_in_order_with_each_items_key(box: Outbox) -> None:
    await _put_three(box)
    server = Server()
    assert await box.deliver(server) is True
    assert [(p.rsplit("/", 1)[1], k) for p, k, _ in server.sent] == [("printed", "k1"), ("rating", "k2"),
                                                                      ("health", "k3")]
    assert server.sent[1][2] == {"level": 1, "channel": "kiosk"}
    assert await box.count() == 0 and box.delivered == 3


async def test_an_unreachable_head_holds_the_rest_and_keeps_everything(box: Outbox) -> None:
    await _put_three(box)
    server = Server()
    server.up = False
    assert await box.deliver(server) is False
    assert len(server.sent) == 1  # only the head was tried: order is kept
    pending = await box.pending()
    assert [i.key for i in pending] == ["k1", "k2", "k3"] and pending[0].tries == 1
    server.up = True
    assert await box.deliver(server) is True
    assert [k for _, k, _ in server.sent] == ["k1", "k1", "k2", "k3"]  # the retry kept its original key


async def test_what_was_pending_survives_a_restart(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path)
    await _put_three(box)
    await box.close()
    await box.close()  # idempotent
    again = await Outbox.open(tmp_path)
    try:
        assert [(i.kind, i.key) for i in await again.pending()] == [("printed", "k1"), ("rating", "k2"),
                                                                    ("health", "k3")]
        server = Server()
        assert await again.deliver(server)
        assert [k for _, k, _ in server.sent] == ["k1", "k2", "k3"]
    finally:
        await again.close()


async def test_the_same_key_is_kept_once(box: Outbox) -> None:
    assert await box.put("printed", "POST", "/api/v1/tickets/t1/printed", {}, "same") is True
    assert await box.put("printed", "POST", "/api/v1/tickets/t1/printed", {}, "same") is False
    assert await box.count() == 1


async def test_a_refusal_leaves_the_outbox_and_does_not_block(box: Outbox) -> None:
    await _put_three(box)
    server = Server()
    server.refuse = {"/api/v1/tickets/t1/printed"}
    assert await box.deliver(server) is True
    assert [k for _, k, _ in server.sent] == ["k1", "k2", "k3"]
    assert box.refused == 1 and box.delivered == 2 and await box.count() == 0


async def test_run_delivers_what_is_put_and_retries_while_away(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path)
    server = Server()
    server.up = False
    task = asyncio.create_task(box.run(server, retry_every_s=0.01))
    try:
        await box.put("printed", "POST", "/api/v1/tickets/t9/printed", {}, "k9")
        await until(lambda: len(server.sent) >= 3, "three tries while the server is away")
        assert await box.count() == 1
        server.up = True

        async def empty() -> bool:
            return await box.count() == 0

        await until(empty, "the outbox to empty")
        assert {k for _, k, _ in server.sent} == {"k9"} and box.delivered == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await box.close()


async def test_a_refused_token_keeps_every_item(box: Outbox) -> None:
    await _put_three(box)
    server = Server()
    server.token_refused = True
    assert await box.deliver(server) is False
    assert await box.count() == 3 and box.refused == 0
    server.token_refused = False
    assert await box.deliver(server) is True and box.delivered == 3
