"""Who is asking: bearer tokens of configured nodes, console session cookies, their roles, staff PINs.

A kiosk cannot call, a window acts only for itself, a display only reads; the checks live here so
every route applies the same rule (PIN attempts are counted durably by the engine: see HallService.sign_in).
A browser signed in to the managers' console (queue_server/console) is authenticated here too, in this one
place: its session cookie stands for a manager node, and every request other than a plain read must also
carry the session's CSRF token in a header and come from the console's own origin.
"""

from __future__ import annotations

from aiohttp import web

from config.model import Hall, Node, NodeRole
from config.secrets import hash_token
from queue_server.api.errors import ApiError
from queue_server.console.guard import check_same_origin
from queue_server.console.sessions import COOKIE_NAME, CSRF_HEADER, SessionTable
from queue_server.engine.errors import QueueError, forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(message_en: str) -> ApiError:
    return ApiError("unauthorized", "需要有效的令牌", message_en, 401)


class Authenticator:
    """Maps a bearer token (or a console session cookie) to its node; tokens are compared as sha256 hashes."""

    def __init__(self, hall: Hall, sessions: SessionTable | None = None) -> None:
        self._by_hash = {node.token_hash: node for node in hall.nodes}
        self._public_url = hall.public_url
        self.sessions = sessions if sessions is not None else SessionTable()

    def node(self, request: web.Request, *, allow_query: bool = False) -> Node:
        header = request.headers.get("Authorization", "")
        token = ""
        if self.session_of(request, allow_query=allow_query) is not None:
            return self.session_node(request)
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorized("use 'Authorization: Bearer TOKEN'")
        elif allow_query:  # browsers cannot set headers on a WebSocket
            token = request.query.get("token", "")
        if not token:
            raise _unauthorized("no bearer token was given")
        node = self._by_hash.get(hash_token(token.strip()))
        if node is None:
            raise _unauthorized("the token is not one of this hall's nodes")
        return node

    @staticmethod
    def session_of(request: web.Request, *, allow_query: bool = False) -> str | None:
        """The console session id a request is authenticated by (a bearer token, when given, wins)."""
        if request.headers.get("Authorization") or (allow_query and "token" in request.query):
            return None
        return request.cookies.get(COOKIE_NAME)

    def session_node(self, request: web.Request) -> Node:
        """The manager a session cookie stands for; actions also need the CSRF header and the same origin."""
        session = self.sessions.get(request.cookies.get(COOKIE_NAME, ""))
        if session is None:
            raise ApiError("session_expired", "登录已过期，请重新登录", "the console session is unknown or has "
                           "expired; sign in again at /manage/sign-in", 401)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.method not in SAFE_METHODS or upgrade:
            check_same_origin(request, self._public_url)
        if request.method not in SAFE_METHODS and not session.csrf_ok(request.headers.get(CSRF_HEADER)):
            raise QueueError("csrf_token_invalid", "页面已失效，请刷新后重试",
                             f"a console action needs the session's token in the {CSRF_HEADER} header", 403)
        return session.node


def require(node: Node, *roles: NodeRole) -> None:
    if node.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise forbidden(f"「{node.role.value}」角色不能执行此操作", f"role {node.role.value} may not do this "
                        f"(allowed: {allowed})")


def require_window(node: Node, window: int) -> None:
    """Window nodes act only for their own window; managers for any."""
    if node.role is NodeRole.MANAGER:
        return
    require(node, NodeRole.WINDOW)
    if node.window != window:
        raise forbidden(f"本终端属于 {node.window} 号窗口，不能操作 {window} 号窗口",
                        f"this node belongs to window {node.window}, not window {window}")
