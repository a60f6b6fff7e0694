"""Why the server could not start, in one line that names what failed, where, and what to do.

A supervisor restarts a process that exits, and a technician reads one line; a traceback of aiohttp's
startup machinery helps neither (``servicehall -v serve`` still logs it at debug level).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from queue_server.store.base import EventStore, StoreError, StoreUnavailable

__all__ = ["StartFailed", "start_failure"]


class StartFailed(Exception):
    """The server cannot start; the message says what failed, where, and what to do (one log line)."""


def start_failure(err: BaseException, store: EventStore) -> StartFailed:
    """Words for a failure while opening or replaying the log, naming the path and the remedy."""
    path = getattr(store, "path", None)
    where = store.where
    if isinstance(err, StoreUnavailable):  # its message names the URL (without a password) and the driver's words
        return StartFailed(f"{err}; make sure PostgreSQL runs there and lets this user into that database, or "
                           "choose another --store")
    if path is None and isinstance(err, StoreError):  # a database store refusing its schema: it says what to do
        remedy = "" if err.__cause__ is None else ("; give servicehall a database of its own (its tables are events, "
                                                   "idempotency and servicehall_schema), or choose another --store")
        return StartFailed(f"{err}{remedy}")
    cause = err.__cause__ if isinstance(err, StoreError) and err.__cause__ is not None else err
    reason = " ".join(str(cause).split()) or type(cause).__name__
    if isinstance(cause, OSError) or (isinstance(cause, sqlite3.OperationalError) and any(
            word in reason for word in ("unable to open", "readonly", "read-only", "disk I/O", "full"))):
        folder = Path(path).parent if path is not None else where
        return StartFailed(f"the event log {where} cannot be opened for writing ({reason}); make sure the data "
                           f"directory {folder} exists or can be created, is writable by this user and the disk is "
                           "not full, or choose another --data")
    if isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError):
        return StartFailed(f"the event log {where} is not a readable SQLite database ({reason}); restore it from "
                           "a backup, or move it aside to start with an empty log")
    return StartFailed(f"the event log {where} cannot be replayed ({type(cause).__name__}: {reason}); it is "
                       "damaged or not a servicehall log: restore it from a backup, or move it aside to start "
                       "with an empty log (it holds acknowledged tickets, so keep the file)")
