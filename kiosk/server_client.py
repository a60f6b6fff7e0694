"""The node's one link to the queue server: bearer token, the server's JSON errors, retries under one key.

Every request ends in exactly one ``Result``: an ``Answer`` (the server said something: a success, or a
refusal with its code and words in Chinese and English) or ``Unreachable`` (no answer after the bounded
tries). The two are kept apart on purpose: a refusal is shown to the citizen and never retried, while an
unreachable server is said on screen and what must still be sent waits in the outbox.

A mutating request always carries an Idempotency-Key (one is made when the caller gave none) and every
retry sends that same key, so a request the server did carry out before the link dropped is answered from
its idempotency memory instead of being done twice. Retries back off exponentially to a cap and stop
after ``RetryPolicy.attempts``; 429 and 503 honour Retry-After within the same cap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kiosk.flows.events import ServerAnswer, ServerUnreachable

__all__ = ["Answer", "Result", "RetryPolicy", "ServerClient", "Unreachable", "as_flow_event", "new_key"]

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 502, 503, 504})  # the server (or a proxy) says "not now", not "no"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_key(prefix: str = "") -> str:
    """A fresh Idempotency-Key: random, visible ASCII, well under the server's 128 characters."""
    return f"{prefix}{secrets.token_hex(12)}"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request tries: ``attempts`` in all, sleeping ``first_delay_s`` doubling up to ``max_delay_s``."""

    attempts: int = 4
    first_delay_s: float = 0.2
    max_delay_s: float = 2.0
    timeout_s: float = 5.0  # one attempt, connect to last byte

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The pause before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        backoff = min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        if retry_after_s is not None:
            backoff = max(backoff, min(retry_after_s, self.max_delay_s))
        return backoff


ONE_SHOT = RetryPolicy(attempts=1, timeout_s=3.0)  # probes: one try, the answer in words at once


@dataclass(frozen=True)
class Answer:
    """The server answered ``status`` with the JSON ``body``; a refusal's body is ``{"error": {…}}``."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> Mapping[str, Any]:
        """The refusal's {code, message_zh, message_en}, read the one way the flows read it."""
        return ServerAnswer(self.key or "", self.status, self.body).error

    @property
    def code(self) -> str:
        return str(self.error.get("code", ""))

    @property
    def message_zh(self) -> str:
        return str(self.error.get("message_zh", ""))

    @property
    def message_en(self) -> str:
        return str(self.error.get("message_en", ""))

    def words(self) -> str:
        """A refusal in words for logs and the console (both languages, never a dict)."""
        if self.ok:
            return f"ok ({self.status})"
        return f"refused {self.status} {self.code}: {self.message_zh} / {self.message_en}".rstrip(" /:")


@dataclass(frozen=True)
class Unreachable:
    """No answer from the server after ``attempts`` tries; ``reason`` is the last failure in words."""

    reason: str
    key: str | None = None
    attempts: int = 1

    ok = False

    def words(self) -> str:
        return f"server unreachable after {self.attempts} tries: {self.reason}"


Result = Answer | Unreachable


def as_flow_event(result: Result, key: str) -> ServerAnswer | ServerUnreachable:
    """The outcome as the kiosk flows' event for the request they sent under ``key``."""
    if isinstance(result, Unreachable):
        return ServerUnreachable(key, result.reason)
    return ServerAnswer(key, result.status, result.body)


class ServerClient:
    """One node's HTTP client: ``async with ServerClient(url, token) as client: await client.health()``."""

    def __init__(self, server: str, token: str, *, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.server = server.rstrip("/")
        self.policy = policy
        self._token = token
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ServerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self._token}"})
        return self._session

    async def close(self) -> None:
        """Let go of the connection pool; idempotent."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ the primitive
    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None, key: str | None = None,
                      *, policy: RetryPolicy | None = None, repeatable: bool = False) -> Result:
        """Send one request (retrying only where retrying is safe) and say what came of it.

        ``repeatable`` marks a POST that may be sent twice as it is (a heartbeat): it goes without a key, so the
        server keeps no idempotency record for it."""
        policy = policy or self.policy
        method = method.upper()
        if method in _MUTATING and key is None and not repeatable:
            key = new_key()
        headers = {"Idempotency-Key": key} if key is not None else {}
        last = "no try was made"
        for attempt in range(1, policy.attempts + 1):
            retry_after: float | None = None
            try:
                status, parsed, retry_after = await self._once(method, path, body, headers, policy.timeout_s)
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                last = _failure_words(err)
            else:
                answer = Answer(status, parsed, key)
                if status not in RETRIED_STATUSES:
                    return answer
                last = f"the server answered {status} ({answer.code or 'unavailable'})"
            if attempt < policy.attempts:
                delay = policy.delay(attempt, retry_after)
                log.debug("%s %s: %s; try %d of %d in %.1f s", method, path, last, attempt + 1, policy.attempts,
                          delay)
                await self._sleep(delay)
        return Unreachable(last, key, policy.attempts)

    async def _once(self, method: str, path: str, body: Mapping[str, Any] | None, headers: dict[str, str],
                    timeout_s: float) -> tuple[int, dict[str, Any], float | None]:
        session = self._open()
        async with session.request(method, self.server + path, json=dict(body) if body is not None else None,
                                   headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            raw = await response.read()
            retry = response.headers.get("Retry-After")
        parsed: Any = {}
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                text = raw[:200].decode("utf-8", "replace")
                parsed = {"error": {"code": f"http_{response.status}", "message_en": text}}
        if not isinstance(parsed, dict):
            parsed = {"value": parsed}
        return response.status, parsed, _seconds(retry)

    # ------------------------------------------------------------------ reads
    async def health(self, *, policy: RetryPolicy | None = None) -> Result:
        return await self.request("GET", "/api/v1/health", policy=policy)

    async def ticket(self, ticket_id: str) -> Result:
        return await self.request("GET", f"/api/v1/tickets/{ticket_id}")

    async def windows(self) -> Result:
        return await self.request("GET", "/api/v1/windows")

    async def nodes(self) -> Result:
        return await self.request("GET", "/api/v1/nodes")

    # ------------------------------------------------------------------ kiosk
    async def issue_ticket(self, body: Mapping[str, Any], key: str | None = None) -> Result:
        """POST /api/v1/tickets: {service, priority?, holder_key?, holder_masked?, appointment_id?, green_reason?}."""
        return await self.request("POST", "/api/v1/tickets", body, key)

    async def report_printed(self, ticket_id: str, key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "printed", key=key)

    async def report_print_failed(self, ticket_id: str, reason: str, key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "print_failed", key=key, reason=reason)

    async def rate(self, ticket_id: str, level: int, *, channel: str = "kiosk", key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/tickets/{ticket_id}/rating",
                                  {"level": level, "channel": channel}, key)

    async def check_in(self, body: Mapping[str, Any], key: str | None = None) -> Result:
        """POST /api/v1/appointments/check-in with {code} or {holder_key[, service]}."""
        return await self.request("POST", "/api/v1/appointments/check-in", body, key)

    # ------------------------------------------------------------------ windows
    async def ticket_action(self, ticket_id: str, action: str, *, key: str | None = None, window: int | None = None,
                            **fields: Any) -> Result:
        """POST /api/v1/tickets/{id}/{action} (recall, skip, finish, transfer, printed, …); empty fields left out."""
        body = {name: value for name, value in {"window": window, **fields}.items() if value not in (None, "")}
        return await self.request("POST", f"/api/v1/tickets/{ticket_id}/{action}", body, key)

    async def call_next(self, window: int, key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/windows/{window}/call-next", {}, key)

    async def recall(self, ticket_id: str, window: int, key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "recall", key=key, window=window)

    async def skip(self, ticket_id: str, window: int, key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "skip", key=key, window=window)

    async def finish(self, ticket_id: str, window: int, key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "finish", key=key, window=window)

    async def transfer(self, ticket_id: str, window: int, *, to_service: str = "", to_window: int | None = None,
                       key: str | None = None) -> Result:
        return await self.ticket_action(ticket_id, "transfer", key=key, window=window, to_service=to_service,
                                        to_window=to_window)

    async def pause(self, window: int, reason: str, key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/windows/{window}/pause", {"reason": reason}, key)

    async def resume(self, window: int, key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/windows/{window}/resume", {}, key)

    async def sign_in(self, window: int, staff: str, pin: str, key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/windows/{window}/sign-in", {"staff": staff, "pin": pin}, key)

    async def sign_out(self, window: int, key: str | None = None) -> Result:
        return await self.request("POST", f"/api/v1/windows/{window}/sign-out", {}, key)

    # ------------------------------------------------------------------ nodes
    async def node_health(self, node: str, devices: Sequence[Mapping[str, Any]], key: str | None = None) -> Result:
        """POST /api/v1/nodes/{node}/health with device states (the server logs their transitions)."""
        return await self.request("POST", f"/api/v1/nodes/{node}/health", {"devices": list(devices)}, key)

    async def heartbeat(self, node: str) -> Result:
        """The node is alive: POST /api/v1/nodes/{node}/health with no devices, which changes nothing but "last
        seen", so it is sent without an Idempotency-Key (no record kept on the server per beat)."""
        return await self.request("POST", f"/api/v1/nodes/{node}/health", {"devices": []}, repeatable=True)

    # ------------------------------------------------------------------ the event stream
    async def follow_events(self, after: int, on_event: Callable[[dict[str, Any]], Awaitable[None] | None],
                            **kwargs: Any) -> None:
        """Follow GET /api/v1/events from ``after`` until cancelled; see kiosk/event_stream.py."""
        from kiosk.event_stream import EventFollower

        await EventFollower(self, on_event, after=after, **kwargs).run()

    def ws_connect(self, after: int, heartbeat_s: float = 10.0) -> Any:
        """The stream's WebSocket after event ``after`` (an async context manager)."""
        return self._open().ws_connect(f"{self.server}/api/v1/events?after={after}", heartbeat=heartbeat_s,
                                       timeout=aiohttp.ClientWSTimeout(ws_close=self.policy.timeout_s))


def _seconds(header: str | None) -> float | None:
    """Retry-After as seconds (the server sends seconds; an HTTP date is ignored)."""
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def _failure_words(err: BaseException) -> str:
    """Why a try got no answer, in words ("connection refused", "timed out after …"), never a repr."""
    if isinstance(err, TimeoutError):
        return "no answer in time"
    if isinstance(err, aiohttp.ClientConnectorError):
        if isinstance(err.os_error, ConnectionRefusedError):
            return f"cannot connect to {err.host}:{err.port}: connection refused"
        return f"cannot connect to {err.host}:{err.port}: {err.os_error.strerror or err.os_error}"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return str(err) or type(err).__name__
