"""SQLAlchemy 2 engine/session factories and the unit of work.

A unit of work is one database transaction; events added to it are written to
the service's outbox table in the *same* transaction, and the relay is told to
publish them once the commit succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TableClause
from sqlalchemy.types import TypeDecorator

from shared.events import Event


class Base(DeclarativeBase):
    """Declarative base; each service subclasses it with its own ``metadata``."""

    __abstract__ = True


WRITE_OPTION = "onestop_write"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy drive transactions, WAL for concurrent readers, and
            # BEGIN IMMEDIATE (below) so that writers queue on the busy timeout
            # instead of failing a read-to-write lock upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front (they queue on the busy
            # timeout); readers stay deferred and never block on a writer.
            immediate = conn.get_execution_options().get(WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine)
    return engine


IDLE_BEFORE_PING = 1.0  # seconds a pooled connection may rest and still be taken unpinged


def ping_when_idle(engine: Engine, idle: float = IDLE_BEFORE_PING) -> None:
    """Check a pooled connection before use when it has rested ``idle`` seconds or more:
    a ``SELECT 1`` (the dialect's ping), and a failed one swaps it for a new connection
    (``DisconnectionError``: the pool tries again, up to three times) — what
    ``pool_pre_ping`` does, without a round trip before every transaction of a busy
    process. A database restarted within a connection's last second of use shows on the
    first statement instead: SQLAlchemy then invalidates the whole pool, and the caller
    meets an outage it already handles (a 503 with Retry-After, a consumer's pause)."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[USED_AT] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[USED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(USED_AT, 0.0) < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc


USED_AT = "onestop_used_at"


class Database:
    """One service's database: engine, session factory and its metadata."""

    def __init__(self, url: str, metadata: MetaData) -> None:
        self.url = url
        self.metadata = metadata
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._apart: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
            event.listen(self._sessions, "do_orm_execute", _write_behind_first)
            event.listen(self._sessions, "before_commit", _write_behind_at_commit)
        return self._engine

    def session(self) -> Session:
        self.engine  # noqa: B018 - creates the session factory on first use
        assert self._sessions is not None
        return self._sessions()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reading only. It ends with COMMIT — a read has nothing to keep,
        and on PostgreSQL a ROLLBACK makes psycopg forget every statement it prepared on
        the connection (``DEALLOCATE ALL``), so that a process whose reads ended so kept
        parsing and planning its hot statements again. A block that raises is rolled
        back."""
        session = self.session()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()
        finally:
            session.close()

    def write_session(self) -> Session:
        """A session for a transaction that writes (on SQLite: ``BEGIN IMMEDIATE``)."""
        session = self.session()
        session.connection(execution_options={WRITE_OPTION: True})
        return session

    @contextmanager
    def apart(self) -> Iterator[Connection]:
        """A PostgreSQL connection apart from any unit of work, for counters whose values
        must never be reused and may be skipped: each statement commits by itself at once
        (autocommit), so a counter row is locked for one statement, not until the commit
        of the transaction that uses its value; and without waiting for the WAL flush
        (``synchronous_commit`` off).

        That is durable enough for such a counter. A transaction that stores a value
        taken here commits after it was taken, and synchronously: flushing the WAL up to
        its own commit flushes the counter's earlier commit too. A crash can only
        lose increments whose values no stored row holds, so a value is never used twice.
        A value whose transaction rolls back stays unused: the counter skips it."""
        if not self.is_postgres:
            raise RuntimeError("Database.apart is for PostgreSQL; SQLite has one writer")
        if self._apart is None:
            self._apart = make_engine(
                self.url,
                isolation_level="AUTOCOMMIT",
                pool_size=2,
                max_overflow=8,
                connect_args={"options": "-c synchronous_commit=off"},
            )
        with self._apart.connect() as connection:
            yield connection

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
        if self._apart is not None:
            self._apart.dispose()
            self._apart = None


def dialect_insert(dialect: str) -> Callable[[Any], Any]:
    """The ``insert`` of a dialect (``postgresql`` or ``sqlite``): one with ``ON CONFLICT``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_or_ignore(db: Database, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the database's own dialect."""
    return dialect_insert("postgresql" if db.is_postgres else "sqlite")(
        table
    ).on_conflict_do_nothing()


WRITE_BEHIND = "onestop_write_behind"  # Session.info: the unit of work's WriteBehind


class WriteBehind:
    """The rows a unit of work writes later (``UnitOfWork.write_later``): each statement's
    rows go to the database in one executemany (psycopg pipelines it) instead of one
    round of SQLAlchemy and the driver per row.

    **Nothing reads past them.** They are written before any statement of the same
    session that could see them — every statement but a ``SELECT`` that reads none of
    their tables (a textual or ORM statement counts as seeing everything) — and before
    the commit. So a transaction reads what it would have read had each row been written
    at once, and a row written later is committed with its transaction or not at all.

    **Order.** The rows of one table are written in the order deferred (a statement's
    rows are grouped only while no other statement on that table comes between them);
    tables are written in the order each was first deferred. Defer rows that no other
    deferred table's row depends on (a foreign key); a transaction whose writes still fail
    fails at its commit, as a whole, and a consumer's batch is then retried event by event.
    """

    def __init__(self) -> None:
        self._groups: list[tuple[Any, list[dict[str, Any]]]] = []
        self._last: dict[str, int] = {}  # a table's last group

    def add(self, statement: Any, params: dict[str, Any]) -> None:
        table = statement.table.name
        at = self._last.get(table)
        if at is not None and self._groups[at][0] is statement:
            self._groups[at][1].append(params)
        else:
            self._last[table] = len(self._groups)
            self._groups.append((statement, [params]))

    def __bool__(self) -> bool:
        return bool(self._groups)

    def seen_by(self, state: ORMExecuteState) -> bool:
        """Whether the statement about to run could see (or must follow) the rows."""
        if not state.is_select or state.is_orm_statement:
            return True
        read = _tables_read(state.statement)
        return read is None or not read.isdisjoint(self._last)

    def write(self, session: Session) -> None:
        groups = self._groups
        self.clear()  # before executing: the statements below pass the hook with nothing due
        for statement, rows in groups:
            session.execute(statement, rows)

    def clear(self) -> None:
        self._groups, self._last = [], {}


@lru_cache(maxsize=1024)
def _tables_read(statement: Any) -> frozenset[str] | None:
    """The names of the tables a ``SELECT`` reads; None when it has textual SQL (which
    could read anything)."""
    names = set()
    for element in visitors.iterate(statement):
        if isinstance(element, TextClause):
            return None
        if isinstance(element, TableClause):
            names.add(element.name)
    return frozenset(names)


def _write_behind_first(state: ORMExecuteState) -> None:
    """Every session's ``do_orm_execute``: the rows written later that the statement
    could see are written first."""
    behind = state.session.info.get(WRITE_BEHIND)
    if behind and behind.seen_by(state):
        if state.session.in_nested_transaction():
            # written now, they would go with the savepoint's rollback
            raise RuntimeError("rows written later are pending at a savepoint")
        behind.write(state.session)


def _write_behind_at_commit(session: Session) -> None:
    """Every session's ``before_commit``: what is still written later is written now."""
    behind = session.info.get(WRITE_BEHIND)
    if behind:
        behind.write(session)


def write_later(uow: UnitOfWork, statement: Any, params: dict[str, Any]) -> None:
    """``statement`` (an ``INSERT`` or ``UPDATE`` of one table, its values bound from
    ``params``) runs later in the unit of work's transaction (``WriteBehind``); the same
    statement object deferred again joins its rows. Inside a savepoint it runs at once
    (a savepoint's rollback must take its rows with it)."""
    if uow.session.in_nested_transaction():
        uow.session.execute(statement, params)
    else:
        uow.behind.add(statement, params)


def upsert_later(
    uow: UnitOfWork, table: Table, key: dict[str, Any], values: dict[str, Any]
) -> None:
    """``upsert``, written later in the transaction (``write_later``)."""
    dialect = "postgresql" if uow.db.is_postgres else "sqlite"
    statement = _upsert_statement(dialect, table, tuple(key), tuple(sorted(values)))
    write_later(uow, statement, {**key, **values})


def claim_later(uow: UnitOfWork, table: Table, **values: Any) -> None:
    """Insert a row unless its key exists, written later in the transaction
    (``write_later``); unlike ``claim``, it cannot say whether this call inserted it."""
    write_later(uow, _ignore_statement(uow.db.is_postgres, table), values)


@cache
def _ignore_statement(postgres: bool, table: Table) -> Any:
    return dialect_insert("postgresql" if postgres else "sqlite")(table).on_conflict_do_nothing()


def upsert(session: Session, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Update the row with ``key`` (a dict of the columns of a unique key), or insert it:
    one ``INSERT … ON CONFLICT DO UPDATE``, so two transactions writing a new row at once
    both succeed (the later commit's values stand) instead of one failing."""
    stmt = _upsert_statement(
        session.get_bind().dialect.name, table, tuple(key), tuple(sorted(values))
    )
    session.execute(stmt, {**key, **values})


@cache
def _upsert_statement(
    dialect: str, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> Any:
    """The statement of ``upsert``, built once per table and set of columns: the values
    are bound at execution (``SET c = excluded.c`` sets what the insert would have), so
    SQLAlchemy neither builds nor compiles it again."""
    ins = dialect_insert(dialect)(table)
    if columns:
        return ins.on_conflict_do_update(
            index_elements=list(key), set_={c: ins.excluded[c] for c in columns}
        )
    return ins.on_conflict_do_nothing(index_elements=list(key))


def claim(session: Session, db: Database, table: Table, **values: Any) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    Uses ``RETURNING`` rather than ``rowcount``: with ``ON CONFLICT DO NOTHING``,
    PostgreSQL drivers may report -1 rows, which would look like a claim. The statement
    is built once per table; the values are bound at execution.
    """
    return session.execute(_claim_statement(db.is_postgres, table), values).first() is not None


@cache
def _claim_statement(postgres: bool, table: Table) -> Any:
    key = next(iter(table.primary_key.columns))
    return (
        dialect_insert("postgresql" if postgres else "sqlite")(table)
        .on_conflict_do_nothing()
        .returning(key)
    )


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back.

    ``emit(event)`` stages an event in the outbox of this same transaction (its rows
    are written with one insert just before the commit); after a successful commit
    ``on_commit`` is called (the relay's wake-up).
    ``before_commit(job, item)`` collects work that the handlers of one transaction (a
    consumer's batch) share: each job runs once, just before the commit, with its items.
    ``write_later(uow, statement, row)`` (``upsert_later``, ``claim_later``) defers a
    row's write, so that a batch's rows go in one executemany (``WriteBehind``).
    ``memo`` holds what a consumer's ``prepare`` read for the transaction's events at once
    (``Inbox.apply_batch``); it starts empty with each transaction.
    ``with uow.read() as s:`` is a session for reading only (on SQLite it takes no write
    lock; ``Database.reading``). ``directory`` is where the use case looks up places and
    the people behind keys (``shared.auth.Directory``, or a fake in tests).

    Use cases take one as their first parameter — ``f(uow, actor, command)`` — so a test
    can hand them one over a throwaway database and read back what they emitted.
    """

    def __init__(
        self,
        db: Database,
        outbox_table: Any,
        on_commit: Callable[[], None] | None = None,
        directory: Any = None,
    ) -> None:
        self.db = db
        self.directory = directory
        self._outbox = outbox_table
        self._on_commit = on_commit
        self.session: Session
        self.events: list[Event] = []
        self._jobs: dict[Callable[[Session, list[Any]], None], dict[Any, None]] = {}
        self.behind = WriteBehind()
        self.memo: dict[Any, Any] = {}

    def read(self) -> AbstractContextManager[Session]:
        return self.db.reading()

    def __enter__(self) -> UnitOfWork:
        self.session = self.db.write_session()
        self.events = []
        self._jobs = {}
        self.behind = WriteBehind()
        self.session.info[WRITE_BEHIND] = self.behind
        self.memo = {}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.behind.clear()
        self.session.rollback()
        self.session.close()

    def emit(self, event: Event) -> None:
        """Publish ``event`` when this transaction commits: its outbox row is written in
        the transaction, just before the commit, with every other event it emits (one
        multi-row insert, in the order emitted), so it exists only if the work does."""
        self.events.append(event)

    def before_commit(self, job: Callable[[Session, list[Any]], None], item: Any) -> None:
        """Have ``job(session, items)`` run once before this transaction commits, with
        ``item`` among its items (each once, in the order first asked for): work that
        several handlers in one transaction would otherwise each repeat."""
        self._jobs.setdefault(job, {})[item] = None

    def commit(self) -> None:
        jobs, self._jobs = self._jobs, {}
        for job, items in jobs.items():
            job(self.session, list(items))
        if self.events:
            self.session.execute(
                insert(self._outbox),
                [
                    {
                        "event_id": e.event_id,
                        "event_type": e.event_type,
                        "event_version": e.event_version,
                        "producer": e.producer,
                        "routing_key": e.routing_key,
                        "body": e.to_json(),
                        "created_at": e.occurred_at,
                    }
                    for e in self.events
                ],
            )
        self.session.commit()
        if self.events and self._on_commit is not None:
            self._on_commit()
        self.events = []

    def rollback(self) -> None:
        self.behind.clear()
        self.session.rollback()
        self.events = []
        self._jobs = {}
