"""--store values: parsed into a record at start, quoted back without the password when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from queue_server.store.sqlite import SqliteStore
from queue_server.store.url import PostgresUrl, StoreUrlError, open_store


def test_a_full_url_parses_and_prints_without_its_password() -> None:
    url = PostgresUrl.parse("postgresql://hall:se%40cret@db.city.gov.cn:6432/halls?connect_timeout=3")
    assert (url.user, url.host, url.port, url.database, url.password, url.connect_timeout_s) == (
        "hall", "db.city.gov.cn", 6432, "halls", "se@cret", 3)
    assert str(url) == "postgresql://hall@db.city.gov.cn:6432/halls"
    assert "se@cret" not in repr(url)
    assert url.scrub("password se@cret refused") == "password *** refused"


def test_defaults_and_a_socket_directory_as_host() -> None:
    url = PostgresUrl.parse("postgresql://postgres@%2Frun%2FPostgreSQL/hall")
    assert (url.host, url.port, url.password, url.connect_timeout_s) == ("/run/PostgreSQL", 5432, None, 10)
    assert str(url) == "postgresql://postgres@%2Frun%2FPostgreSQL:5432/hall"


@pytest.mark.parametrize("text", [
    "postgresql://127.0.0.1/hall",  # no user
    "postgresql://u:pw@127.0.0.1:x/hall",
    "postgresql://u:pw@127.0.0.1:70000/hall",
    "postgresql://u:pw@127.0.0.1/",
    "postgresql://u:pw@127.0.0.1/a/b",
    "postgresql://u:pw@127.0.0.1/hall?sslmode=require",
    "postgresql://u:pw@127.0.0.1/hall?connect_timeout=0",
    "postgresql://u:pw@/hall",
])
def test_a_bad_url_is_quoted_with_the_syntax_and_never_the_password(text: str) -> None:
    with pytest.raises(StoreUrlError, match=r"the syntax is postgresql://USER\[:PASSWORD\]@HOST") as err:
        PostgresUrl.parse(text)
    assert "pw" not in str(err.value).replace("PASSWORD", "")


def test_no_store_is_the_sqlite_log_in_the_data_directory_and_an_unknown_scheme_lists_the_known(
        tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "events.sqlite3"
    with pytest.raises(StoreUrlError, match=r"known stores are postgresql") as err:
        open_store("mysql://u:pw@h/db", tmp_path)
    assert "pw" not in str(err.value).replace("PASSWORD", "")
