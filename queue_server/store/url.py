"""Which event log to use: the SQLite file in the data directory, or a store chosen by a URL.

``servicehall serve --store postgresql://USER@HOST:PORT/DB`` puts the log in a database the city already
runs; without ``--store`` the hall keeps its embedded SQLite log. A URL is parsed into a frozen record at
start, so a typo is one clear line before anything is opened, and the password never reaches a log line.
"""

from __future__ import annotations

import importlib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from queue_server.store.base import EventStore

POSTGRES_SYNTAX = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?connect_timeout=S]"
# scheme → "module:Class", imported only when chosen (the SQLite default never loads a PostgreSQL driver)
STORES = {"postgresql": "queue_server.store.postgres:PostgresStore"}


class StoreUrlError(ValueError):
    """A --store value that names no store this server knows, or does not follow its syntax."""


@dataclass(frozen=True)
class PostgresUrl:
    """``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?connect_timeout=S]``; HOST may be a percent-encoded
    socket directory (``%2Ftmp%2Fpg``). Without a password libpq's own means apply (PGPASSWORD, ~/.pgpass)."""

    user: str
    host: str
    port: int
    database: str
    password: str | None = field(default=None, repr=False)
    connect_timeout_s: int = 10

    @classmethod
    def parse(cls, text: str) -> PostgresUrl:
        shown = redact(text)
        problem = f"could not parse {shown!r}: the syntax is {POSTGRES_SYNTAX}"
        parts = urllib.parse.urlsplit(text)
        credentials, _, hostport = parts.netloc.rpartition("@")
        host_text, _, port_text = hostport.rpartition(":") if ":" in hostport else (hostport, "", "5432")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise StoreUrlError(f"{problem} (bad port {port_text!r})")
        user_text, _, password_text = credentials.partition(":")
        user, host, port = urllib.parse.unquote(user_text), urllib.parse.unquote(host_text), int(port_text)
        database = urllib.parse.unquote(parts.path.lstrip("/"))
        if parts.scheme != "postgresql" or not user or not host or not database or "/" in database or parts.fragment:
            raise StoreUrlError(problem)
        timeout = 10
        for name, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
            if name != "connect_timeout" or len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
                raise StoreUrlError(f"{problem} (unknown or bad option {name!r})")
            timeout = int(values[0])
        password = urllib.parse.unquote(password_text) if ":" in credentials else None
        return cls(user, host, port, database, password, timeout)

    def __str__(self) -> str:
        """The URL as logs and errors show it: never with the password."""
        host = urllib.parse.quote(self.host, safe="") if self.host.startswith("/") else self.host
        return f"postgresql://{urllib.parse.quote(self.user, safe='')}@{host}:{self.port}/{self.database}"

    def scrub(self, text: str) -> str:
        """``text`` (a driver's error message) with the password, should it appear, blotted out."""
        return text.replace(self.password, "***") if self.password else text


def redact(text: str) -> str:
    """A URL as typed, with whatever stands between ``USER:`` and ``@`` replaced by ``***``."""
    scheme, sep, rest = text.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return text
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"


def open_store(spec: str | None, data_dir: str | Path, hall: str = "") -> EventStore:
    """The store a --store value names (not yet opened), or the SQLite log in ``data_dir`` without one.

    ``hall``: the hall's code in a city (its rows in a shared database, its own directory under ``data_dir``);
    '' for a single-hall server."""
    if spec is None:
        from queue_server.store.sqlite import SqliteStore

        return SqliteStore(Path(data_dir) / hall / "events.sqlite3" if hall else Path(data_dir) / "events.sqlite3")
    scheme = spec.partition("://")[0].lower()
    if scheme not in STORES:
        raise StoreUrlError(f"could not use --store {redact(spec)!r}: known stores are "
                            f"{', '.join(sorted(STORES))} (e.g. {POSTGRES_SYNTAX}); leave --store out for the "
                            "SQLite log in --data")
    module, _, name = STORES[scheme].partition(":")
    store_class = getattr(importlib.import_module(module), name)
    store: EventStore = store_class.from_url(spec, hall=hall)
    return store
