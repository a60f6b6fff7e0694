"""The event log in PostgreSQL: one writer connection with group commit, the same promises as SQLite.

Requests queue their events; one writer task takes everything queued since its last commit and writes it
in one transaction (one statement, ``INSERT … SELECT FROM json_array_elements(…)`` into both tables, whatever
the batch size: one round trip), and only after its COMMIT returns (``synchronous_commit`` as the database is
configured: on by default, so flushed to its WAL) is any request answered. The checks before the
transaction and the bookkeeping after it are ``store/batch.py``'s, shared with SQLite.

A lost database is fail-stop, not a reconnect: a COMMIT whose answer never came may or may not be durable,
and the engine has already counted its event ids, so only a replay of what the database really holds can
say where the log stands. The store refuses every write from the first failure on; the supervisor's
restart is the replay (and a retrying kiosk then finds its answer, if that COMMIT did land). Reads (replay
pages, a WebSocket's catch-up) carry no promise and reconnect once on a fresh connection.

The schema is the server's own: ``servicehall_schema`` holds its version and each start applies the missing
migrations in one transaction under an advisory lock, so two servers starting at once migrate once.

Driver: psycopg 3 (async API). It ships type hints and its binary wheel bundles libpq (nothing to install
from apt).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

import psycopg

from queue_server.engine.events import Event
from queue_server.store.base import IdempotencyRecord, StoreError, StoreUnavailable
from queue_server.store.batch import GroupCommitStore, Job, Plan, Prune, Write, runs, utf8_text
from queue_server.store.url import PostgresUrl

log = logging.getLogger(__name__)

# Each entry brings the schema from version i to i + 1; never edit one that has shipped, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id BIGINT PRIMARY KEY,
        type TEXT NOT NULL,
        v INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        node TEXT NOT NULL,
        staff TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE idempotency (
        node TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (node, key)
    );
    """,
)
# data stays TEXT, not JSONB: the log returns exactly the JSON it was given (JSONB reorders keys and refuses \u0000).
# No index on idempotency.at (one B-tree write less per request), as in SQLite: a prune scans for one chunk.
MIGRATION_LOCK = 0x5E_4A11  # advisory lock key serialising migrations of one database ("servicehall")

LOCK_TIMEOUT_S = 5.0  # how long a write waits for another session's lock before the batch fails
WRITE_TIMEOUT_S = 30.0  # a batch not committed by then (a partitioned network) breaks the store (psycopg then
# waits up to 5 s more for the cancelled statement before it drops the session, so the refusal comes after ~35 s)
PRUNE_CHUNK_ROWS = 1000
APPLICATION_NAME = "servicehall"  # pg_stat_activity shows whose connections these are

# Each table's rows travel as ONE JSON parameter (json.dumps is C; psycopg's array dumpers are Python and cost
# twice the CPU per batch), unpacked by the database in order.
_EVENTS = ("INSERT INTO events (id, type, v, at, node, staff, data) "
           "SELECT (r->>0)::bigint, r->>1, (r->>2)::integer, (r->>3)::float8, r->>4, r->>5, r->>6 "
           "FROM json_array_elements(%s::json) AS r")
# The first durable answer for a key wins, within a batch too (rows in log order, DO NOTHING skips the rest);
# RETURNING tells which were kept, to warn about the ones dropped.
_RECORDS = ("INSERT INTO idempotency (node, key, fingerprint, status, body, at) "
            "SELECT r->>0, r->>1, r->>2, (r->>3)::integer, r->>4, (r->>5)::float8 "
            "FROM json_array_elements(%s::json) WITH ORDINALITY AS a(r, n) ORDER BY n "
            "ON CONFLICT (node, key) DO NOTHING RETURNING node, key, fingerprint, status, body, at")
# A batch is ONE statement on an autocommit session, so one round trip: a statement outside BEGIN is its own
# transaction, both INSERTs of a data-modifying WITH commit or fail together, and the answer (ReadyForQuery,
# which psycopg waits for) comes only after the implicit COMMIT, flushed as synchronous_commit says.
_BATCH = {(True, False): _EVENTS, (False, True): _RECORDS, (True, True): f"WITH e AS ({_EVENTS}) {_RECORDS}"}
_PRUNE = ("DELETE FROM idempotency WHERE ctid = ANY(ARRAY("
          "SELECT ctid FROM idempotency WHERE at < %s LIMIT %s))")

_STOP = object()


def pg_text(text: str) -> None:
    """PostgreSQL text is UTF-8 without NUL: either would fail inside the batch's transaction."""
    utf8_text(text)
    if "\x00" in text:
        raise ValueError(f"a NUL character (character {text.index(chr(0))} of a text field)")


class PostgresStore(GroupCommitStore):
    """One hall's log in a PostgreSQL database (the tables ``events``, ``idempotency``, ``servicehall_schema``)."""

    check_text = staticmethod(pg_text)

    def __init__(self, url: PostgresUrl, *, lock_timeout_s: float = LOCK_TIMEOUT_S,
                 write_timeout_s: float = WRITE_TIMEOUT_S, prune_chunk_rows: int = PRUNE_CHUNK_ROWS) -> None:
        super().__init__()
        self.url = url
        self.lock_timeout_s = lock_timeout_s
        self.write_timeout_s = write_timeout_s
        self.prune_chunk_rows = prune_chunk_rows
        self._jobs: asyncio.Queue[object] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._reader: psycopg.AsyncConnection | None = None
        self._reader_lock = asyncio.Lock()
        self._last_id = 0

    @classmethod
    def from_url(cls, text: str) -> PostgresStore:
        return cls(PostgresUrl.parse(text))

    @property
    def where(self) -> str:
        return str(self.url)

    async def _connect(self, role: str) -> psycopg.AsyncConnection:
        """A session with our name on it and the lock timeout set; unreachable → StoreUnavailable."""
        u = self.url
        try:
            conn = await psycopg.AsyncConnection.connect(
                host=u.host, port=u.port, user=u.user, password=u.password, dbname=u.database,
                connect_timeout=u.connect_timeout_s, application_name=f"{APPLICATION_NAME} {role}", autocommit=True)
        except psycopg.Error as err:
            raise StoreUnavailable(f"cannot connect to the event log {self.where}: {self._reason(err)}") from err
        await conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{round(self.lock_timeout_s * 1000)}ms",))
        return conn

    def _reason(self, err: BaseException) -> str:
        return self.url.scrub(" ".join(str(err).split()) or type(err).__name__)

    async def open(self) -> None:
        self._closing = False
        conn = await self._connect("writer")
        try:
            await self._migrate(conn)
            cur = await conn.execute("SELECT COALESCE(MAX(id), 0) FROM events")
            row = await cur.fetchone()
            self._last_id = int(row[0]) if row else 0
            self._reader = await self._connect("reader")
        except BaseException as err:
            await conn.close()
            if isinstance(err, psycopg.OperationalError):
                raise StoreUnavailable(f"lost the event log {self.where}: {self._reason(err)}") from err
            if isinstance(err, psycopg.Error):
                raise StoreError(f"cannot open the event log {self.where}: {self._reason(err)}") from err
            raise
        self._writer = asyncio.create_task(self._write_loop(conn), name=f"postgres-writer {self.url.database}")

    async def _migrate(self, conn: psycopg.AsyncConnection) -> None:
        """Bring the schema to ``len(MIGRATIONS)``; refuse a database a newer server has migrated."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS servicehall_schema (version INTEGER NOT NULL)")
            cur = await conn.execute("SELECT version FROM servicehall_schema")
            rows = await cur.fetchall()
            if len(rows) > 1:
                raise StoreError(f"the event log {self.where} has {len(rows)} schema versions; it is not a "
                                 "servicehall log, or was edited by hand")
            version = int(rows[0][0]) if rows else 0
            if version > len(MIGRATIONS):
                raise StoreError(f"the event log {self.where} has schema version {version}, newer than this "
                                 f"server's {len(MIGRATIONS)}; run the newer server, or upgrade this one")
            for step in range(version, len(MIGRATIONS)):
                await conn.execute(MIGRATIONS[step])  # type: ignore[arg-type]  # our own constant text
                log.info("event log %s: schema migrated to version %d", self.where, step + 1)
            if not rows:
                await conn.execute("INSERT INTO servicehall_schema (version) VALUES (%s)", (len(MIGRATIONS),))
            elif version < len(MIGRATIONS):
                await conn.execute("UPDATE servicehall_schema SET version = %s", (len(MIGRATIONS),))

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._jobs.put_nowait(_STOP)
            await self._writer
            self._writer = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    def _writing(self) -> bool:
        return self._writer is not None

    def _enqueue(self, job: Job) -> None:
        self._jobs.put_nowait(job)

    # ---- the writer task ---------------------------------------------------------------------------
    async def _write_loop(self, conn: psycopg.AsyncConnection) -> None:
        try:
            stop = False
            while not stop:
                jobs = [await self._jobs.get()]
                while jobs[-1] is not _STOP and not self._jobs.empty():  # group commit: all that queued meanwhile
                    jobs.append(self._jobs.get_nowait())
                if jobs[-1] is _STOP:
                    jobs.pop()
                    stop = True
                await self._run(conn, jobs)  # type: ignore[arg-type]
        finally:
            self._refuse_leftovers()
            try:
                await conn.close()
            except psycopg.Error as err:
                log.warning("closing the event log %s failed: %s", self.where, self._reason(err))

    async def _run(self, conn: psycopg.AsyncConnection, jobs: list[Job]) -> None:
        """Commit runs of writes as one batch each, a prune chunk in its place; never let the writer die."""
        try:
            for run in runs(jobs):
                if isinstance(run, Prune):
                    await self._prune_chunk(conn, run)
                else:
                    await self._commit(conn, run)
        except Exception as err:  # a bug, not a database fault: still refuse rather than hang the waiters
            log.exception("the event log writer failed")
            self._break(f"the writer failed: {err!r}")
            self._settle([], [(job.done, self._broken_error(), None) for job in jobs])

    async def _commit(self, conn: psycopg.AsyncConnection, batch: list[Write]) -> None:
        plan = self._plan(batch, self._last_id)
        durable: list[Sequence[Event]] = []
        if plan.ready:
            try:
                async with asyncio.timeout(self.write_timeout_s):
                    ignored = await self._transaction(conn, plan)
            except (psycopg.Error, OSError, TimeoutError) as err:  # not known durable: broken from here on
                reason = f"no COMMIT within {self.write_timeout_s:g} s" if isinstance(err, TimeoutError) \
                    else self._reason(err)
                self._failed(plan, StoreError(reason))
            else:
                self._last_id = plan.next_id - 1
                durable = self._committed(plan, ignored)
        self._settle(durable, plan.outcomes)

    @staticmethod
    async def _transaction(conn: psycopg.AsyncConnection, plan: Plan) -> list[tuple[str, str]]:
        """The batch's events and answers in one transaction; returns the (node, key) answers already kept."""
        records = [(r.node, r.key, r.fingerprint, r.status, r.body, r.at) for r in plan.records]
        params = [json.dumps(table, ensure_ascii=False, allow_nan=False) for table in (plan.rows, records) if table]
        cur = await conn.execute(_BATCH[bool(plan.rows), bool(records)], params)  # type: ignore[arg-type]
        kept = {tuple(row) for row in await cur.fetchall()} if records else set()
        return [(r[0], r[1]) for r in records if r not in kept]

    async def _prune_chunk(self, conn: psycopg.AsyncConnection, job: Prune) -> None:
        """Delete one bounded chunk; a full chunk goes back in the queue, behind what waits to be committed."""
        if self.broken is not None:
            self._settle([], [(job.done, self._broken_error(), None)])
            return
        try:
            async with asyncio.timeout(self.write_timeout_s), conn.transaction():
                cur = await conn.execute(_PRUNE, (job.before, self.prune_chunk_rows))
                deleted = cur.rowcount
        except (psycopg.Error, OSError, TimeoutError) as err:  # no promise rests on a prune: the store stays usable
            log.warning("pruning idempotency records before %s failed: %s", job.before, self._reason(err))
            self._settle([], [(job.done, StoreError(f"idempotency records could not be pruned: "
                                                    f"{self._reason(err)}"), None)])
            return
        job.deleted += deleted
        if deleted == self.prune_chunk_rows:
            self._jobs.put_nowait(job)
        else:
            self._settle([], [(job.done, None, job.deleted)])

    def _refuse_leftovers(self) -> None:
        """After the stop: whatever is still queued is told the log is closed (nobody waits forever)."""
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if isinstance(job, Write | Prune) and not job.done.done():
                job.done.set_exception(StoreError("the event log is closed"))

    # ---- readers -----------------------------------------------------------------------------------
    async def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        """One query on the reader connection; a connection lost since the last read is replaced once."""
        async with self._reader_lock:
            for attempt in (1, 2):
                if self._reader is None:
                    raise StoreError("the event log is closed")
                try:
                    cur = await self._reader.execute(sql, params)  # type: ignore[arg-type]  # our own constants
                    return await cur.fetchall()
                except psycopg.OperationalError as err:
                    if attempt == 2 or (not self._reader.closed and not self._reader.broken):
                        raise StoreError(f"cannot read the event log {self.where}: {self._reason(err)}") from err
                    log.warning("the event log %s lost its reader connection (%s); reconnecting",
                                self.where, self._reason(err))
                    with contextlib.suppress(psycopg.Error):
                        await self._reader.close()
                    self._reader = await self._connect("reader")
                except psycopg.Error as err:
                    raise StoreError(f"cannot read the event log {self.where}: {self._reason(err)}") from err
        raise AssertionError("unreachable")

    async def read_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        rows = await self._read("SELECT id, type, v, at, node, staff, data FROM events WHERE id > %s ORDER BY id "
                                "LIMIT %s", (after_id, limit))
        return [Event.from_row(*row) for row in rows]  # type: ignore[arg-type]

    async def load_idempotency(self, since: float) -> list[IdempotencyRecord]:
        rows = await self._read("SELECT node, key, fingerprint, status, body, at FROM idempotency WHERE at >= %s",
                                (since,))
        return [IdempotencyRecord(*row) for row in rows]  # type: ignore[arg-type]
