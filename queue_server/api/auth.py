"""Who is asking: bearer tokens of configured nodes, their roles, and rate-limited staff PINs.

A kiosk cannot call, a window acts only for itself, a display only reads; the checks live here so
every route applies the same rule (PIN attempts are counted durably by the engine: see HallService.sign_in).
"""

from __future__ import annotations

from aiohttp import web

from config.model import Hall, Node, NodeRole
from config.secrets import hash_token
from queue_server.api.errors import ApiError
from queue_server.engine.errors import forbidden


def _unauthorized(message_en: str) -> ApiError:
    return ApiError("unauthorized", "需要有效的令牌", message_en, 401)


class Authenticator:
    """Maps a bearer token to its node; tokens are compared as sha256 hashes, never kept in clear."""

    def __init__(self, hall: Hall) -> None:
        self._by_hash = {node.token_hash: node for node in hall.nodes}

    def node(self, request: web.Request, *, allow_query: bool = False) -> Node:
        header = request.headers.get("Authorization", "")
        token = ""
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
