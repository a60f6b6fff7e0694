"""The event log in PostgreSQL, shared by the instances serving a hall and by the halls of a city.

Commands queue their deciders; one writer task per hall takes everything queued since its last turn and
runs one turn (``_commit``): BEGIN, the hall's advisory lock, the events other instances appended and the
answers kept for the batch's keys (one pipelined round trip); then the engine decides every command on the
complete picture; then the events and answers in one statement, a NOTIFY on the hall's channel and COMMIT
(a second round trip). Only after the COMMIT returns (``synchronous_commit`` as the database is configured)
is any request answered. The checks before the write and the bookkeeping after it are ``store/batch.py``'s,
shared with SQLite. A listener task per hall reads what others appended when woken (docs/city-scale.md).

A turn that fails before deciding (the lock not free within ``lock_timeout``, the session lost, the database
away) decided nothing: those requests are refused with NotDecided and the next turn opens a new session. A
COMMIT whose answer never came may or may not be durable, and the engine has already counted its event ids:
that is fail-stop, the store refuses every write from then on, and the supervisor's restart is the replay (a
retrying kiosk then finds its answer, if that COMMIT did land). Reads (replay pages, a WebSocket's catch-up)
carry no promise and reconnect once on a fresh connection.

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
from psycopg import sql

from queue_server.engine.events import Event
from queue_server.store.base import Decider, IdempotencyRecord, NotDecided, StoreError, StoreUnavailable, Verdict
from queue_server.store.batch import Decide, GroupCommitStore, Job, Plan, Prune, Write, runs, utf8_text
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
    # 2: many halls in one database (a city): every row names its hall, ids are contiguous per hall. A database
    # of one hall keeps working: its rows get the hall '' that a single-hall server uses.
    """
    ALTER TABLE events ADD COLUMN hall TEXT NOT NULL DEFAULT '';
    ALTER TABLE events DROP CONSTRAINT events_pkey;
    ALTER TABLE events ADD PRIMARY KEY (hall, id);
    ALTER TABLE idempotency ADD COLUMN hall TEXT NOT NULL DEFAULT '';
    ALTER TABLE idempotency DROP CONSTRAINT idempotency_pkey;
    ALTER TABLE idempotency ADD PRIMARY KEY (hall, node, key);
    """,
)
# data stays TEXT, not JSONB: the log returns exactly the JSON it was given (JSONB reorders keys and refuses \u0000).
# No index on idempotency.at (one B-tree write less per request), as in SQLite: a prune scans for one chunk.
MIGRATION_LOCK = 0x5E_4A11  # advisory lock key serialising migrations of one database ("servicehall")

HALL_LOCK = 0x5E_4A12  # advisory lock class of a hall's turn (with hashtext(hall)): whoever holds it decides
CHANNEL = "servicehall_events:"  # + the hall: a channel per hall, so a commit wakes only that hall's listeners;
# the payload is the commit's last event id (a wake-up: the log is the truth)
TURN_MARGIN_S = 5.0  # a turn (connect, lock, catch-up) gets lock_timeout plus this before it is given up
LOCK_TIMEOUT_S = 5.0  # how long a write waits for another session's lock before the batch fails
WRITE_TIMEOUT_S = 30.0  # a batch not committed by then (a partitioned network) breaks the store (psycopg then
# waits up to 5 s more for the cancelled statement before it drops the session, so the refusal comes after ~35 s)
PRUNE_CHUNK_ROWS = 1000
FOLLOW_PAGE = 1000
FOLLOW_BACKOFF_S = (0.1, 5.0)  # the listener's reconnect: first wait, cap
APPLICATION_NAME = "servicehall"  # pg_stat_activity shows whose connections these are

# Each table's rows travel as ONE JSON parameter (json.dumps is C; psycopg's array dumpers are Python and cost
# twice the CPU per batch), unpacked by the database in order.
_EVENTS = ("INSERT INTO events (hall, id, type, v, at, node, staff, data) "
           "SELECT %s, (r->>0)::bigint, r->>1, (r->>2)::integer, (r->>3)::float8, r->>4, r->>5, r->>6 "
           "FROM json_array_elements(%s::json) AS r")
# The first durable answer for a key wins, within a batch too (rows in log order, DO NOTHING skips the rest);
# RETURNING tells which were kept, to warn about the ones dropped.
_RECORDS = ("INSERT INTO idempotency (hall, node, key, fingerprint, status, body, at) "
            "SELECT %s, r->>0, r->>1, r->>2, (r->>3)::integer, r->>4, (r->>5)::float8 "
            "FROM json_array_elements(%s::json) WITH ORDINALITY AS a(r, n) ORDER BY n "
            "ON CONFLICT (hall, node, key) DO NOTHING RETURNING node, key, fingerprint, status, body, at")
# A batch is ONE statement on an autocommit session, so one round trip: a statement outside BEGIN is its own
# transaction, both INSERTs of a data-modifying WITH commit or fail together, and the answer (ReadyForQuery,
# which psycopg waits for) comes only after the implicit COMMIT, flushed as synchronous_commit says.
_BATCH = {(True, False): _EVENTS, (False, True): _RECORDS, (True, True): f"WITH e AS ({_EVENTS}) {_RECORDS}"}
_READ = "SELECT id, type, v, at, node, staff, data FROM events WHERE hall = %s AND id > %s ORDER BY id"
_PRIORS = ("SELECT node, key, fingerprint, status, body, at FROM idempotency WHERE hall = %s AND (node, key) IN "
           "(SELECT r->>0, r->>1 FROM json_array_elements(%s::json) AS r)")
_PRUNE = ("DELETE FROM idempotency WHERE ctid = ANY(ARRAY("
          "SELECT ctid FROM idempotency WHERE hall = %s AND at < %s LIMIT %s))")
_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"  # (HALL_LOCK, hall): one lock per hall

_STOP = object()


def pg_text(text: str) -> None:
    """PostgreSQL text is UTF-8 without NUL: either would fail inside the batch's transaction."""
    utf8_text(text)
    if "\x00" in text:
        raise ValueError(f"a NUL character (character {text.index(chr(0))} of a text field)")


class PostgresStore(GroupCommitStore):
    """One hall's log in a PostgreSQL database (the tables ``events``, ``idempotency``, ``servicehall_schema``),
    shared with the other halls of a city (``hall``: their rows, lock and wake-ups are apart) and with the
    other instances serving that hall."""

    check_text = staticmethod(pg_text)

    def __init__(self, url: PostgresUrl, *, hall: str = "", lock_timeout_s: float = LOCK_TIMEOUT_S,
                 write_timeout_s: float = WRITE_TIMEOUT_S, prune_chunk_rows: int = PRUNE_CHUNK_ROWS) -> None:
        super().__init__()
        self.url = url
        self.hall = hall  # '' for a single-hall server (and every row of a database from before schema 2)
        self.lock_timeout_s = lock_timeout_s
        self.write_timeout_s = write_timeout_s
        self.prune_chunk_rows = prune_chunk_rows
        self._jobs: asyncio.Queue[object] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._reader: psycopg.AsyncConnection | None = None
        self._reader_lock = asyncio.Lock()
        self._conn: psycopg.AsyncConnection | None = None  # the writer's session; None after it was lost
        self._listener: asyncio.Task[None] | None = None
        self._turn_lock = asyncio.Lock()  # a turn (decide … settle) and a follow read exclude each other
        self._last_id = 0  # the last event id this store knows in the log (its own, caught up, or at open)

    @classmethod
    def from_url(cls, text: str, hall: str = "") -> PostgresStore:
        return cls(PostgresUrl.parse(text), hall=hall)

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
            cur = await conn.execute("SELECT COALESCE(MAX(id), 0) FROM events WHERE hall = %s", (self.hall,))
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
        self._conn = conn
        self._writer = asyncio.create_task(self._write_loop(), name=f"postgres-writer {self.url.database}")

    async def follow(self) -> None:
        if self._listener is None and self._writer is not None:
            self._listener = asyncio.create_task(self._listen_loop(), name=f"postgres-listener {self.url.database}")

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
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
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

    def decide(self, decider: Decider, slot: tuple[str, str] | None = None) -> asyncio.Future[Verdict]:
        done: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        refusal = self._refusal()
        if refusal is not None:
            done.set_exception(refusal)
        else:
            self._jobs.put_nowait(Decide(decider, slot, done))
        return done

    # ---- the writer task ---------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        try:
            stop = False
            while not stop:
                jobs = [await self._jobs.get()]
                while jobs[-1] is not _STOP and not self._jobs.empty():  # group commit: all that queued meanwhile
                    jobs.append(self._jobs.get_nowait())
                if jobs[-1] is _STOP:
                    jobs.pop()
                    stop = True
                await self._run(jobs)  # type: ignore[arg-type]
        finally:
            self._refuse_leftovers()
            if self._conn is not None:
                try:
                    await self._conn.close()
                except psycopg.Error as err:
                    log.warning("closing the event log %s failed: %s", self.where, self._reason(err))
                self._conn = None

    async def _run(self, jobs: list[Job]) -> None:
        """Commit runs of writes as one batch each, a prune chunk in its place; never let the writer die."""
        try:
            for run in runs(jobs):
                if isinstance(run, Prune):
                    await self._prune_chunk(run)
                else:
                    await self._commit(run)
        except Exception as err:  # a bug, not a database fault: still refuse rather than hang the waiters
            log.exception("the event log writer failed")
            self._break(f"the writer failed: {err!r}")
            self._settle([], [(job.done, self._broken_error(), None) for job in jobs])

    async def _session(self) -> psycopg.AsyncConnection:
        """The writer's session, opened again after it was lost (StoreUnavailable while the database is away)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = None
            self._conn = await self._connect("writer")
            log.info("the event log %s has a writer session again", self.where)
        return self._conn

    async def _commit(self, batch: list[Write | Decide]) -> None:
        """One turn: BEGIN, the hall's lock, catch up; decide; insert, NOTIFY, COMMIT (two round trips).

        Nothing is decided before the lock is held and the log read up to its end, so every instance decides on
        the whole log; a failure before the decisions (no lock within lock_timeout, the database away) refuses
        these requests with NotDecided and leaves the store usable. A failure after them may have committed or
        not, and the engine has counted the ids: fail-stop, as before.
        """
        async with self._turn_lock:
            await self._turn(batch)

    async def _turn(self, batch: list[Write | Decide]) -> None:
        if self.broken is not None:
            self._settle([], [(job.done, self._broken_error(), None) for job in batch])
            return
        slots = [job.slot for job in batch if isinstance(job, Decide) and job.slot is not None]
        try:
            async with asyncio.timeout(self._turn_timeout_s):
                conn = await self._session()
                caught, priors = await self._take_turn(conn, slots)
        except (psycopg.Error, OSError, TimeoutError, StoreError) as err:
            reason = self._turn_failure(err)
            await self._abandon()
            if any(isinstance(job, Write) for job in batch):  # ids counted by the caller: a gap would follow
                plan = Plan(ready=[job for job in batch if isinstance(job, Write)])
                self._failed(plan, StoreError(reason))
                self._settle([], plan.outcomes + [(job.done, self._broken_error(), None) for job in batch
                                                  if isinstance(job, Decide)])
            else:
                self._settle([], [(job.done, NotDecided(f"the event log {self.where}: {reason}"), None)
                                  for job in batch])
            return
        self._caught_up(caught)
        writes = [job if isinstance(job, Write) else self._decided(job, priors) for job in batch]
        plan = self._plan(writes, self._last_id)
        durable: list[Sequence[Event]] = []
        try:
            async with asyncio.timeout(self.write_timeout_s):
                ignored = await self._transaction(conn, plan)
        except (psycopg.Error, OSError, TimeoutError) as err:  # not known durable: broken from here on
            reason = f"no COMMIT within {self.write_timeout_s:g} s" if isinstance(err, TimeoutError) \
                else self._reason(err)
            self._failed(plan, StoreError(reason))
            await self._abandon()
        else:
            self._last_id = max(self._last_id, plan.next_id - 1)
            durable = self._committed(plan, ignored)
        self._settle(durable, plan.outcomes)

    @property
    def _turn_timeout_s(self) -> float:
        return min(self.write_timeout_s, self.lock_timeout_s + TURN_MARGIN_S)

    def _turn_failure(self, err: BaseException) -> str:
        if isinstance(err, TimeoutError):
            return f"no turn within {self._turn_timeout_s:g} s"
        if isinstance(err, psycopg.errors.LockNotAvailable):
            return f"the hall's lock was not free within {self.lock_timeout_s:g} s (another instance holds it)"
        return self._reason(err) if isinstance(err, psycopg.Error | OSError) else str(err)

    async def _abandon(self) -> None:
        """End whatever transaction the turn left open; a session that cannot say so is dropped (the database
        then ends its transaction and frees the lock)."""
        conn, self._conn = self._conn, None
        if conn is None or conn.closed or conn.broken:
            return
        try:
            async with asyncio.timeout(TURN_MARGIN_S):
                await conn.execute("ROLLBACK")
        except (psycopg.Error, OSError, TimeoutError):
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
            return
        self._conn = conn

    async def _take_turn(self, conn: psycopg.AsyncConnection, slots: list[tuple[str, str]]
                         ) -> tuple[list[Event], dict[tuple[str, str], IdempotencyRecord]]:
        """BEGIN, lock, the events after ours and the answers kept for the batch's keys: one round trip.

        The catch-up is its own statement after the lock's, so its snapshot (READ COMMITTED: one per
        statement) includes every commit made before the lock was ours.
        """
        async with conn.pipeline():
            await conn.execute("BEGIN")
            await conn.execute(_LOCK, (HALL_LOCK, self.hall))
            events = await conn.execute(_READ, (self.hall, self._last_id))
            records = await conn.execute(_PRIORS, (self.hall, json.dumps(slots))) if slots else None
            rows = await events.fetchall()
            kept = await records.fetchall() if records is not None else []
        priors = {(r[0], r[1]): IdempotencyRecord(*r) for r in kept}
        return [Event.from_row(*row) for row in rows], priors

    def _caught_up(self, events: list[Event]) -> None:
        """Hand what others wrote to the service (in log order, before any decision that must include it)."""
        if not events:
            return
        self._last_id = max(self._last_id, events[-1].id)
        if self.on_catch_up is not None:
            self.on_catch_up(events)

    @staticmethod
    def _decided(job: Decide, priors: dict[tuple[str, str], IdempotencyRecord]) -> Write:
        verdict = job.decider(priors.get(job.slot) if job.slot is not None else None)
        return Write(verdict.events, verdict.record, job.done, verdict)

    async def _transaction(self, conn: psycopg.AsyncConnection, plan: Plan) -> list[tuple[str, str]]:
        """The batch's events and answers, the wake-up for the other instances, COMMIT: one round trip.
        Returns the (node, key) answers already kept."""
        records = [(r.node, r.key, r.fingerprint, r.status, r.body, r.at) for r in plan.records]
        params = [value for table in (plan.rows, records) if table
                  for value in (self.hall, json.dumps(table, ensure_ascii=False, allow_nan=False))]
        async with conn.pipeline():
            cur = await conn.execute(_BATCH[bool(plan.rows), bool(records)], params) if params else None  # type: ignore[arg-type]
            if plan.rows:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL + self.hall, str(plan.next_id - 1)))
            await conn.execute("COMMIT")
            kept = {tuple(row) for row in await cur.fetchall()} if cur is not None and records else set()
        return [(r[0], r[1]) for r in records if r not in kept]

    async def _prune_chunk(self, job: Prune) -> None:
        """Delete one bounded chunk; a full chunk goes back in the queue, behind what waits to be committed."""
        if self.broken is not None:
            self._settle([], [(job.done, self._broken_error(), None)])
            return
        try:
            conn = await self._session()
            async with asyncio.timeout(self.write_timeout_s), conn.transaction():
                cur = await conn.execute(_PRUNE, (self.hall, job.before, self.prune_chunk_rows))
                deleted = cur.rowcount
        except (psycopg.Error, OSError, TimeoutError, StoreError) as err:  # no promise rests on a prune
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
            if isinstance(job, Write | Decide | Prune) and not job.done.done():
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
        rows = await self._read(_READ + " LIMIT %s", (self.hall, after_id, limit))
        return [Event.from_row(*row) for row in rows]  # type: ignore[arg-type]

    # ---- following the others ----------------------------------------------------------------------
    async def _listen_loop(self) -> None:
        """LISTEN for commits of other instances and read the log after the last id known here.

        The notification is only a wake-up: each (re)connection reads the log first (what was missed while
        away), and the writer's turn catches up anyway, so a lost notification costs a delay, never an event.
        The session's loss is said once, and its return once.
        """
        backoff_s = FOLLOW_BACKOFF_S[0]
        lost = False
        while True:
            try:
                conn = await self._connect("listener")
                try:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL + self.hall)))
                    if lost:
                        log.info("the event log %s: following other instances again", self.where)
                        lost, backoff_s = False, FOLLOW_BACKOFF_S[0]
                    await self._follow()
                    async for note in conn.notifies():
                        if note.payload.isdigit() and int(note.payload) > self._last_id:
                            await self._follow()
                finally:
                    with contextlib.suppress(psycopg.Error, OSError):
                        await conn.close()
            except (psycopg.Error, OSError, StoreError) as err:
                if not lost:
                    log.warning("the event log %s: cannot follow other instances (%s); retrying",
                                self.where, self._reason(err))
                    lost = True
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, FOLLOW_BACKOFF_S[1])

    async def refresh(self) -> None:
        await self._follow()

    async def _follow(self) -> None:
        """Read what others appended after the last id known here and hand it over, page by page."""
        while True:
            async with self._turn_lock:  # never between a turn's decisions and their settling
                page = await self.read_after(self._last_id, FOLLOW_PAGE)
                self._caught_up(page)
            if len(page) < FOLLOW_PAGE:
                return

    async def load_idempotency(self, since: float) -> list[IdempotencyRecord]:
        rows = await self._read("SELECT node, key, fingerprint, status, body, at FROM idempotency "
                                "WHERE hall = %s AND at >= %s", (self.hall, since))
        return [IdempotencyRecord(*row) for row in rows]  # type: ignore[arg-type]
