"""The PostgreSQL test fixture keeps to its own databases, and a private cluster runs unprivileged."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.support.postgres import PgServer, PrivateCluster


def test_a_test_database_is_fresh_its_own_and_dropped_after(pg_server: PgServer) -> None:
    url = pg_server.create_database()
    name = url.rpartition("/")[2]
    assert name.startswith(f"sh_{pg_server.run}_")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    pg_server.drop_database(url)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
    with pytest.raises(AssertionError, match="did not create"):
        pg_server.drop_database(pg_server.admin_url.rpartition("/")[0] + "/postgres")


def test_a_private_cluster_lives_in_its_temporary_directory_as_an_unprivileged_user(
        private_cluster: PrivateCluster) -> None:
    """The fresh-machine path, whatever this session uses (SERVICEHALL_TEST_PG=private runs every test on one)."""
    with psycopg.connect(private_cluster.url, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('data_directory'), current_setting('port')").fetchone()
    assert row == (str(private_cluster.root / "data"), str(private_cluster.port))
    assert os.stat(private_cluster.root / "data").st_uid != 0, "the cluster's files belong to root"
    root = private_cluster.root
    private_cluster.destroy()
    assert not root.exists()
