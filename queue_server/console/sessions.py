"""Console sessions: a random id in an HttpOnly cookie, looked up in a table held in memory only.

The table is deliberately not durable: a restart signs every manager out (they sign in again), which
keeps no secret on disk. A session ends when idle for ``idle_s`` or ``absolute_s`` after sign-in,
whichever comes first, or at sign-out. Only the sha256 of the id is kept, so a dump of the table opens
nothing; each session has its own CSRF token, which the console's pages carry and send back in a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from config.model import Node

COOKIE_NAME = "servicehall_session"
CSRF_HEADER = "X-CSRF-Token"
IDLE_S = 30 * 60.0
ABSOLUTE_S = 12 * 3600.0
MAX_SESSIONS = 256  # a hall has a handful of managers; past this the least recently used is dropped
CLOSE_SESSION_ENDED = 4001  # the event stream's close code once its session ended (sign in again)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Session:
    """One signed-in browser: who it acts as (a manager node), its CSRF token, and its two deadlines."""

    node: Node
    csrf_token: str
    created_at: float
    last_seen: float
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set at sign-out or when found expired

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


class SessionTable:
    """Sessions by the hash of their id; ``clock`` is monotonic by default (a wall-clock step changes nothing)."""

    def __init__(self, *, idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S, limit: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.limit = limit
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, node: Node) -> tuple[str, Session]:
        """A new session for ``node``: returns the id (for the cookie, never stored) and the session."""
        now = self._clock()
        self._purge(now)
        while len(self._sessions) >= self.limit:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            self._sessions.pop(oldest).ended.set()
        session_id = secrets.token_urlsafe(32)
        session = Session(node, secrets.token_urlsafe(32), now, now)
        self._sessions[_digest(session_id)] = session
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session of this id (its idle deadline moves on), or None if unknown or expired."""
        key = _digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[key]
            session.ended.set()
            return None
        session.last_seen = now
        return session

    async def watch(self, session_id: str, on_end: Callable[[], Awaitable[object]]) -> None:
        """Call ``on_end`` once the session has ended: at sign-out at once, at expiry when its deadline passes
        (waking only then; a use in between moves the idle deadline, which is looked at again)."""
        session = self._sessions.get(_digest(session_id))
        while session is not None and not self._expired(session, self._clock()):
            now = self._clock()
            deadline = min(session.last_seen + self.idle_s, session.created_at + self.absolute_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.ended.wait(), max(0.0, deadline - now) + 0.01)
            if session.ended.is_set():
                break
        await on_end()

    def end(self, session_id: str) -> bool:
        """Sign-out: forget the session; True if there was one."""
        session = self._sessions.pop(_digest(session_id), None)
        if session is not None:
            session.ended.set()
        return session is not None

    def max_age_s(self, session: Session) -> int:
        """What the cookie's Max-Age should say: the absolute deadline (the idle one is enforced here)."""
        return max(0, int(session.created_at + self.absolute_s - self._clock()))

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen >= self.idle_s or now - session.created_at >= self.absolute_s

    def _purge(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            self._sessions.pop(key).ended.set()
