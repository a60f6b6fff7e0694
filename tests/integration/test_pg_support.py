"""The PostgreSQL test fixture keeps to its own databases, and a private cluster runs unprivileged."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.support.postgres import PgServer


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


def test_a_private_cluster_lives_in_its_temporary_directory_as_an_unprivileged_user(pg_server: PgServer) -> None:
    if pg_server.cluster is None:
        pytest.skip("this session uses the running server (SERVICEHALL_TEST_PG=private forces a private cluster)")
    cluster = pg_server.cluster
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('data_directory'), current_setting('port')").fetchone()
    assert row == (str(cluster.root / "data"), str(cluster.port))
    owner = os.stat(cluster.root / "data").st_uid
    assert owner != 0, "the cluster's files belong to root"
