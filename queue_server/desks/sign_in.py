"""The sign-in desk: one rate-limited check of a staff PIN (or a manager token) for windows and the console.

A window's staff sign-in and the managers' web console share this one mechanism: a wrong secret is a
durable ``staff.pin_failed`` event counted per staff id (known ids only) and per asking party (a window
node, or ``console@ADDRESS`` for a browser), and a lock from either count refuses the next try with the
seconds to wait. A console tries a manager node token under the same lock, counted per address only.
"""

from __future__ import annotations

import asyncio
import hmac

from config.model import Node, NodeRole, Staff
from config.secrets import hash_token, verify_pin
from queue_server.desks import DeskBase
from queue_server.engine.errors import QueueError, forbidden

CONSOLE_NODE_PREFIX = "console:"  # a staff manager's console session acts as the node "console:ID"


def console_client(address: str) -> str:
    """The name failures from one browser address are counted under (the window PINs count per node)."""
    return f"console@{address or 'unknown'}"


class SignInDesk(DeskBase):
    """Checks a secret under the PIN lock; the caller decides what a success opens (a window, a session)."""

    def _check_lock(self, staff_id: str, client: str) -> None:
        lock = self.engine.pin_lock(staff_id if staff_id in self._staff else "", client, self._now())
        if lock is not None:
            raise QueueError("too_many_attempts", f"密码错误次数过多，请 {lock.retry_after_s} 秒后再试",
                             f"too many wrong PINs; try again in {lock.retry_after_s} s", 429,
                             {"retry_after_s": lock.retry_after_s})

    async def _failed(self, staff_id: str, client: str, window: int | None) -> None:
        await self.run(lambda at: self.engine.pin_failed(window, staff_id, at, node=client))

    async def verify_pin(self, staff_id: str, pin: str, *, client: str, window: int | None) -> Staff:
        """The staff member whose PIN this is, or a refusal (wrong: 401 and counted; locked: 429)."""
        self._check_lock(staff_id, client)
        staff = self._staff.get(staff_id)
        ok = await asyncio.to_thread(verify_pin, pin, staff.pin_hash if staff else self._decoy_pin_hash)
        if not ok or staff is None:
            await self._failed(staff_id, client, window)
            raise QueueError("wrong_pin", "工号或密码错误", "unknown staff id or wrong PIN", 401)
        return staff

    async def manager_by_pin(self, staff_id: str, pin: str, *, client: str) -> Node:
        """A console sign-in by staff PIN: only staff marked ``manager = true`` get in."""
        staff = await self.verify_pin(staff_id, pin, client=client, window=None)
        if not staff.manager:
            raise forbidden("该工作人员不是管理员，不能登录管理后台", f"staff {staff.id} is not a manager")
        return Node(name=f"{CONSOLE_NODE_PREFIX}{staff.id}", role=NodeRole.MANAGER, token_hash="")

    async def manager_by_token(self, token: str, *, client: str) -> Node:
        """A console sign-in by a manager node's token; wrong tokens count against the address like PINs."""
        self._check_lock("", client)
        digest = hash_token(token.strip())
        node = next((n for n in self.hall.nodes if n.token_hash and hmac.compare_digest(n.token_hash, digest)), None)
        if node is None:
            await self._failed("", client, None)
            raise QueueError("wrong_token", "令牌错误", "the token is not one of this hall's nodes", 401)
        if node.role is not NodeRole.MANAGER:
            raise forbidden(f"「{node.role.value}」终端的令牌不能登录管理后台",
                            f"a {node.role.value} node's token does not open the console; use a manager's")
        return node
