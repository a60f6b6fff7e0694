"""PostgreSQL faults under a running server: the database drops our sessions, or restarts.

Chosen behaviour: fail-stop, as for SQLite (queue_server/store/postgres.py says why: a COMMIT whose answer was
lost may or may not be durable, and only a replay knows). The scenario is test_store_faults.py's: tickets
before the fault, a burst during it; every answer a 201 or the JSON 503 ``store_unavailable``; the server
keeps refusing once the database is back; after a restart every acknowledged ticket is there with its
number, the ids run without a gap, nothing refused became durable, and the refused keys retry into one
ticket each.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.server_support import ServerProcess
from tests.integration.test_store_faults import run_fault
from tests.support.postgres import PgServer, PrivateCluster


async def test_the_database_terminates_the_servers_sessions(tmp_path: Path, pg_server: PgServer, pg_url: str) -> None:
    """pg_terminate_backend of the server's writer and reader, as a DBA or a failover would."""

    async def inject() -> None:
        assert await asyncio.to_thread(pg_server.terminate_servicehall, pg_url) >= 1

    async def remove() -> None:
        """The database itself never went away: only the sessions did."""

    with ServerProcess(tmp_path / "data", store=pg_url) as server:
        await run_fault(server, inject, remove, failed_batch_may_survive=False)


async def test_the_database_restarts_under_the_server(tmp_path: Path, private_cluster: PrivateCluster) -> None:
    url = private_cluster.url

    async def inject() -> None:
        await asyncio.to_thread(private_cluster.stop, "fast")

    async def remove() -> None:
        await asyncio.to_thread(private_cluster.start)
        assert private_cluster.url == url, "the restarted cluster moved to another port"

    with ServerProcess(tmp_path / "data", store=url) as server:
        await run_fault(server, inject, remove, failed_batch_may_survive=False)
