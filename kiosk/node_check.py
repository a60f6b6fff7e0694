"""``servicehall node --check``: every device of the node and the server link, each said once in words.

The server is checked twice over, because the two failures need different remedies: GET /api/v1/health says
whether it answers at all (address, network, is it running), GET /api/v1/queues whether it accepts this
node's token (the token in SERVICEHALL_TOKEN or the hall file). A check makes one try each, never retries.
"""

from __future__ import annotations

from config.model import Node
from devices.probe import probe_all
from kiosk.server_client import ONE_SHOT, Answer, RetryPolicy, ServerClient

__all__ = ["check_node", "check_server"]


async def check_server(server: str, token: str, timeout_s: float) -> tuple[str, bool]:
    """One line about the server, and whether it is usable by this node."""
    policy = RetryPolicy(attempts=1, timeout_s=min(timeout_s, ONE_SHOT.timeout_s))
    async with ServerClient(server, token, policy=policy) as client:
        health = await client.health()
        if not isinstance(health, Answer):
            return f"server {server}: unreachable; {health.reason}; check the address and that it runs", False
        if not health.ok:
            return f"server {server}: answers, but not as a queue server ({health.words()})", False
        hall = health.body.get("hall", "")
        access = await client.request("GET", "/api/v1/queues")
        if not isinstance(access, Answer):
            return f"server {server}: went away during the check ({access.reason})", False
        if access.status == 401:
            return (f"server {server} ({hall}): refuses this node's token; give the right one in "
                    "SERVICEHALL_TOKEN"), False
        if not access.ok:
            return f"server {server} ({hall}): {access.words()}", False
        return f"server {server} ({hall}): reachable; token accepted", True


async def check_node(node: Node, server: str, token: str, timeout_s: float) -> tuple[list[str], bool]:
    """Lines of words (devices first, then the server) and whether everything is ready."""
    results = await probe_all(node.devices, timeout_s)
    lines = [f"node {node.name} ({node.role.value}): {len(results)} devices"]
    lines += [result.words() for result in results]
    server_line, server_ok = await check_server(server, token, timeout_s)
    lines.append(server_line)
    ok = server_ok and all(result.ready for result in results)
    lines.append("all ready" if ok else "NOT ready: see above")
    return lines, ok
