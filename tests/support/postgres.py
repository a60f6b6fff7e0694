"""A PostgreSQL for the test session: the one already running on 127.0.0.1:5432, or a private cluster.

Which one (``SERVICEHALL_TEST_PG``):
- ``auto`` (the default): a server that accepts ``postgres`` on 127.0.0.1:5432 without a password is used;
  otherwise (a fresh Debian 12 machine: the package's cluster is down or wants a password) a private one;
- ``private``: always a private cluster, to prove that path on a machine that does run a server.

On a running server the session only ever creates databases of its own (``sh_<run>_<n>``, random per run)
and drops exactly those; nothing else is touched. A private cluster lives in a temporary directory: initdb
and pg_ctl from the Debian package, as the unprivileged ``postgres`` user when the tests run as root, on a
free loopback port with its socket in that directory; it is stopped and deleted at the end of the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.integration.server_support import free_port

MODE_ENV = "SERVICEHALL_TEST_PG"
SHARED = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT_S = 3
PG_CTL_TIMEOUT_S = 60


def accepts(url: str) -> bool:
    """Whether ``url`` lets us in (refused, no such role, a password wanted: all mean no)."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


@dataclass
class PrivateCluster:
    """A throwaway cluster in ``root`` (data, log, socket), run by an unprivileged user."""

    root: Path
    bin_dir: Path
    port: int = 0
    as_user: list[str] = field(default_factory=list)  # ["runuser", "-u", "postgres", "--"] when we are root
    options: str = ""  # more server options, after (so over) the test defaults: a benchmark's durable cluster

    @classmethod
    def create(cls, options: str = "") -> PrivateCluster:
        initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
        if not initdbs:
            pytest.fail("no PostgreSQL accepts postgres on 127.0.0.1:5432 and none is installed to start a private "
                        "cluster: run bash .ci/setup (it installs Debian's postgresql)")
        # Not pytest's tmp_path: it is 0700 root, and the server user must reach its directory.
        cluster = cls(Path(tempfile.mkdtemp(prefix="shpg-")), Path(initdbs[-1]).parent, options=options)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            user = pwd.getpwnam("postgres") if _has_user("postgres") else pwd.getpwnam("nobody")
            os.chown(cluster.root, user.pw_uid, user.pw_gid)
            cluster.as_user = ["runuser", "-u", user.pw_name, "--"]
        try:
            cluster._run("initdb", "-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                         "--no-sync", "--no-instructions")
            cluster.start()
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.as_user, str(self.bin_dir / tool), *args], cwd=self.root, text=True,
                              capture_output=True, timeout=PG_CTL_TIMEOUT_S + 30, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n"
                               f"{self.log_text()[-2000:]}")
        return done

    def start(self) -> None:
        """Start on a free port (a fresh one if the last was taken meanwhile); the port is kept on a restart.

        The database's own flush is off: the tests kill servicehall, never the machine under PostgreSQL, so
        its fsync would only add time; durability of a COMMIT against our process dying is what is tested.
        """
        for _attempt in range(3):
            self.port = self.port or free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                       f"-c full_page_writes=off {self.options}")
            done = self._run("pg_ctl", "-D", "data", "-l", "log", "-w", "-t", str(PG_CTL_TIMEOUT_S), "-o", options,
                             "start", check=False)
            if done.returncode == 0:
                return
            self.port = 0
        raise RuntimeError(f"the private PostgreSQL did not start: {done.stderr.strip()}\n{self.log_text()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", "data", "-m", mode, "-w", "-t", str(PG_CTL_TIMEOUT_S), "stop")

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "log").read_text(errors="replace")
        return ""

    def destroy(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class PgServer:
    """The session's PostgreSQL: makes and drops databases of its own, and nothing else."""

    admin_url: str
    cluster: PrivateCluster | None = None
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    created: list[str] = field(default_factory=list)

    def create_database(self) -> str:
        """A fresh empty database; returns its URL (the --store value of a server under test)."""
        name = f"sh_{self.run}_{len(self.created) + 1}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # our own name, no input
        self.created.append(name)
        return self.admin_url.rpartition("/")[0] + "/" + name

    def drop_database(self, url: str) -> None:
        name = url.rpartition("/")[2]
        assert name in self.created, f"refusing to drop {name}: this session did not create it"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        self.created.remove(name)

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database for the block (a test, a module), dropped after it."""
        url = self.create_database()
        try:
            yield url
        finally:
            self.drop_database(url)

    def terminate_servicehall(self, url: str) -> int:
        """pg_terminate_backend of every servicehall connection to that database (as a DBA's restart would)."""
        name = url.rpartition("/")[2]
        assert name in self.created
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                "AND application_name LIKE 'servicehall%%'", (name,)).fetchall()
        return sum(1 for (ok,) in rows if ok)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    mode = os.environ.get(MODE_ENV, "auto")
    if mode not in ("auto", "private"):
        pytest.fail(f"{MODE_ENV}={mode!r}: expected auto or private")
    cluster = None
    if mode == "private" or not accepts(SHARED):
        cluster = PrivateCluster.create()
    server = PgServer(cluster.url if cluster else SHARED, cluster)
    try:
        yield server
    finally:
        try:
            for name in list(server.created):  # a test's own teardown normally dropped it already
                with contextlib.suppress(psycopg.Error):
                    server.drop_database(name)
        finally:
            if cluster is not None:
                cluster.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A database of this test's own on the session's PostgreSQL, dropped after the test."""
    with pg_server.database() as url:
        yield url


STORES = ["sqlite", "postgresql"]


@pytest.fixture(params=STORES)
def server_store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The --store of a server under test: None (the SQLite log in its data directory) or a fresh database."""
    yield from _store(request)


@pytest.fixture(scope="module", params=STORES)
def module_server_store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The same for a server shared by a module's tests."""
    yield from _store(request)


def _store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with server.database() as url:
        yield url


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    """A cluster of the test's own, whatever the session uses: for faults a shared server must never see
    (stopping it, freezing its processes)."""
    cluster = PrivateCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()
