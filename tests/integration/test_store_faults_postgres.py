"""PostgreSQL faults under a running server: the database drops our sessions, or restarts.

Both faults strike between commits, so they meet a turn before anything is decided (the session is gone
at BEGIN, or the database refuses the connection): those requests get the JSON 503 ``store_unavailable``
and nothing else happens; once the database is back the next turn, on a fresh session, decides again
without a restart (a COMMIT whose answer is lost is still fail-stop: tests/unit/test_store_postgres.py).
The scenario is test_store_faults.py's: tickets before the fault, a burst during it; every answer a 201
or the 503; after a restart every acknowledged ticket is there with its number, the ids run without a
gap, nothing refused became durable, and the refused keys retry into one ticket each.
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
        await run_fault(server, inject, remove, failed_batch_may_survive=False, fail_stop=False)


async def test_the_database_restarts_under_the_server(tmp_path: Path, private_cluster: PrivateCluster) -> None:
    url = private_cluster.url

    async def inject() -> None:
        await asyncio.to_thread(private_cluster.stop, "fast")

    async def remove() -> None:
        await asyncio.to_thread(private_cluster.start)
        assert private_cluster.url == url, "the restarted cluster moved to another port"

    with ServerProcess(tmp_path / "data", store=url) as server:
        await run_fault(server, inject, remove, failed_batch_may_survive=False, fail_stop=False)
