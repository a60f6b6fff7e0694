"""``servicehall serve`` that cannot start exits non-zero with one clear line, no traceback, no hang.

A supervisor (systemd, a hall PC's autostart) restarts a process that exits; one that hangs after a
failed start looks alive and keeps the hall down. Each case runs the real command as a subprocess; the
bound is generous (it is a hang detector, not a timing assertion).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import psycopg

from tests.integration.server_support import ALLDAY_HALL, PYTHON, REPO, free_port

EXIT_BOUND_S = 30.0


def serve(data: Path, port: int | None = None, store: str | None = None) -> tuple[int, list[str]]:
    """Run ``servicehall serve``; its exit code and log lines (a hang fails the test)."""
    try:
        done = subprocess.run(
            [PYTHON, "-m", "kiosk.cli", "serve", "--config", str(ALLDAY_HALL), "--data", str(data),
             "--host", "127.0.0.1", "--port", str(port or free_port()), *(["--store", store] if store else [])],
            cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, timeout=EXIT_BOUND_S)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"serve did not exit within {EXIT_BOUND_S} s: {err.output!r} {err.stderr!r}") from None
    output = (done.stdout + done.stderr).decode(errors="replace")
    return done.returncode, [line for line in output.splitlines() if line.strip()]


def assert_one_clear_line(code: int, lines: list[str], *words: str) -> str:
    assert code != 0, lines
    text = "\n".join(lines)
    assert "Traceback" not in text, text
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    assert len(errors) == 1, text
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_a_garbage_event_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.sqlite3").write_bytes(bytes(range(256)) * 64)
    line = assert_one_clear_line(*serve(data), str(data / "events.sqlite3"))
    assert "backup" in line or "move it aside" in line, line


def test_a_log_with_the_wrong_tables(tmp_path: Path) -> None:
    """A SQLite file, but not a servicehall log: replay fails after the writer thread started."""
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "events.sqlite3") as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, something TEXT)")
        conn.execute("INSERT INTO events VALUES (1, 'x')")
    conn.close()
    assert_one_clear_line(*serve(data), str(data / "events.sqlite3"))


def test_a_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert_one_clear_line(*serve(blocker / "data"), str(blocker / "data"))


def test_a_read_only_data_dir(tmp_path: Path) -> None:
    """Read-only for whoever runs the tests: a read-only mount for root (who ignores file modes), chmod else."""
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)], check=True)
    else:
        data.chmod(0o500)
    try:
        assert_one_clear_line(*serve(data), str(data))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(data)], check=True)
        else:
            data.chmod(0o700)


def test_a_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = assert_one_clear_line(*serve(tmp_path / "data", port), f"127.0.0.1:{port}")
    assert "--port" in line, line


# ---------------------------------------------------------------------------------------------- PostgreSQL
def test_a_database_that_is_down(tmp_path: Path) -> None:
    """Nothing listens on the port: one line naming the URL, without the password, and what to do."""
    port = free_port()
    line = assert_one_clear_line(*serve(tmp_path / "data", store=f"postgresql://hall:s3cret@127.0.0.1:{port}/hall"),
                                 f"postgresql://hall@127.0.0.1:{port}/hall", "--store")
    assert "s3cret" not in line, line
    assert not (tmp_path / "data").exists(), "a SQLite log was made although --store was given"


def test_a_store_url_that_does_not_parse(tmp_path: Path) -> None:
    code, lines = serve(tmp_path / "data", store="postgresql://hall:s3cret@127.0.0.1:port/hall")
    assert code == 1, lines
    assert lines == ["could not parse 'postgresql://hall:***@127.0.0.1:port/hall': the syntax is "
                     "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?connect_timeout=S] (bad port 'port')"], lines
    code, lines = serve(tmp_path / "data", store="mysql://hall@127.0.0.1/hall")
    assert code == 1 and len(lines) == 1 and "known stores are postgresql" in lines[0], lines


def test_a_database_migrated_by_a_newer_server(tmp_path: Path, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE servicehall_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO servicehall_schema VALUES (99)")
    line = assert_one_clear_line(*serve(tmp_path / "data", store=pg_url), pg_url, "99")
    assert "newer" in line and "damaged" not in line, line


def test_a_database_whose_events_table_is_not_a_servicehall_log(tmp_path: Path, pg_url: str) -> None:
    """Tables of another program under our names: the migration fails, one line, and nothing of theirs changes."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id BIGINT PRIMARY KEY, something TEXT)")
        conn.execute("INSERT INTO events VALUES (1, 'x')")
    line = assert_one_clear_line(*serve(tmp_path / "data", store=pg_url), pg_url, "already exists")
    assert "a database of its own" in line, line
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM events").fetchall() == [(1, "x")]
        assert conn.execute("SELECT to_regclass('servicehall_schema')").fetchone() == (None,)
