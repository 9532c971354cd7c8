"""Pooled connections on a real PostgreSQL that restarts (``shared.db.ping_when_idle``):
a busy process takes its connections without a ping; one that rested is pinged, and a
dead one is swapped for a new connection before the caller sees it; a restart within a
connection's last moments of use shows as one outage (``shared.faults``), and the pool
recovers at once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from onestop.localservers import Postgres
from shared.db import ping_when_idle
from shared.faults import unavailable

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server():
    if not Postgres.available():
        pytest.skip("PostgreSQL is not installed")
    pg = Postgres(durable=False).start()
    yield pg
    pg.destroy()


def engine_on(server, idle: float):
    engine = create_engine(server.create_database("pings"), pool_size=2, max_overflow=0)
    ping_when_idle(engine, idle)
    pings = []
    ping = engine.dialect.do_ping

    def counted(conn):
        pings.append(time.monotonic())
        return ping(conn)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return engine, pings


def one(engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT 1")).scalar_one())


def test_a_busy_pool_takes_its_connections_without_a_ping(server):
    engine, pings = engine_on(server, idle=5.0)
    for _ in range(50):
        assert one(engine) == 1
    assert pings == []
    engine.dispose()


def test_a_rested_connection_is_pinged_and_a_dead_one_replaced_unseen(server):
    engine, pings = engine_on(server, idle=0.3)
    assert one(engine) == 1
    time.sleep(0.4)
    assert one(engine) == 1
    assert len(pings) == 1  # rested: pinged once, alive
    server.stop()
    server.start()  # every pooled connection is dead now
    time.sleep(0.4)
    assert one(engine) == 1  # the ping failed, the pool connected anew: no error seen
    engine.dispose()


def test_a_restart_within_the_idle_time_is_one_outage_then_the_pool_recovers(server):
    engine, pings = engine_on(server, idle=60.0)
    assert one(engine) == 1
    server.stop()
    server.start()
    with pytest.raises(OperationalError) as failed:
        one(engine)  # not pinged: the first statement meets the dead connection
    assert unavailable(failed.value) == "database"  # a 503 / a consumer's pause
    assert one(engine) == 1  # the whole pool was invalidated: the next one works
    assert pings == []
    engine.dispose()


def prepared_on(session) -> int:
    """How many statements the session's connection has prepared on the server."""
    return int(session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one())


def test_a_read_keeps_the_statements_the_connection_prepared(server):
    """psycopg prepares a statement run five times, and forgets all of them on a ROLLBACK
    (``DEALLOCATE ALL``): a read (``Database.reading``) ends with COMMIT, so they stay."""
    from sqlalchemy import MetaData

    from shared.db import Database

    db = Database(server.create_database("reads"), MetaData())
    hot = text("SELECT 1 + :n")
    for n in range(6):
        with db.reading() as s:
            s.execute(hot, {"n": n})
    with db.reading() as s:
        kept = prepared_on(s)
    assert kept >= 1
    with db.session() as s:  # a session closed without a commit rolls back …
        s.execute(hot, {"n": 0})
    with db.reading() as s:
        assert prepared_on(s) == 0  # … and psycopg drops what it prepared
    with pytest.raises(ZeroDivisionError), db.reading() as s:
        s.execute(hot, {"n": 1})
        raise ZeroDivisionError  # a read that raises is rolled back
    db.dispose()


def test_a_statement_apart_commits_at_once_without_waiting_for_the_flush(server):
    """``Database.apart``: a counter taken there is seen by others before the transaction
    that uses it commits, stays taken when that transaction rolls back, and its commit does
    not wait for the WAL flush."""
    from sqlalchemy import MetaData

    from shared.db import Database

    db = Database(server.create_database("apart"), MetaData())
    with db.engine.begin() as c:
        c.execute(text("CREATE TABLE counter (n integer NOT NULL)"))
        c.execute(text("INSERT INTO counter VALUES (0)"))
    bump = text("UPDATE counter SET n = n + 1 RETURNING n")
    with db.write_session() as user:  # the transaction that uses the value
        with db.apart() as counter:
            assert counter.execute(bump).scalar_one() == 1
            setting = text("SELECT setting, source FROM pg_settings WHERE name = :n")
            mine = counter.execute(setting, {"n": "synchronous_commit"}).one()
            assert tuple(mine) == ("off", "client")  # its own, whatever the server's
        with db.apart() as other:  # not locked until the user's commit: taken again at once
            assert other.execute(bump).scalar_one() == 2
        user.rollback()
    with db.reading() as s:
        assert s.execute(text("SELECT n FROM counter")).scalar_one() == 2  # never given back
    db.dispose()


def test_apart_is_for_postgresql_only(tmp_path):
    from sqlalchemy import MetaData

    from shared.db import Database

    db = Database(f"sqlite:///{tmp_path}/x.db", MetaData())
    with pytest.raises(RuntimeError, match="PostgreSQL"), db.apart():
        pass


def test_rows_written_later_go_in_one_pipelined_executemany_and_only_with_the_commit(server):
    """``write_later`` on PostgreSQL: a batch's upserts, the same key among them, go as
    one executemany (psycopg pipelines it) and leave the last value; a SELECT of their
    table in the transaction sees them; another connection sees nothing before the
    commit."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, event, select

    from shared.db import Database, UnitOfWork, upsert_later
    from shared.outbox import add_outbox_tables

    metadata = MetaData()
    outbox, _, _ = add_outbox_tables(metadata)
    counts = Table(
        "counts", metadata, Column("name", String, primary_key=True), Column("n", Integer)
    )
    db = Database(server.create_database("behind"), metadata)
    metadata.create_all(db.engine)
    runs: list[int] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO counts"):
            runs.append(len(parameters) if executemany else 1)

    event.listen(db.engine, "before_cursor_execute", record)
    with UnitOfWork(db, outbox) as uow:
        for i in range(50):
            upsert_later(uow, counts, {"name": f"k{i % 10}"}, {"n": i})
        with db.reading() as other:
            assert other.execute(select(counts)).all() == []
        assert uow.session.execute(select(counts.c.n).where(counts.c.name == "k3")).one() == (43,)
        assert runs == [50]
        with db.reading() as other:
            assert other.execute(select(counts)).all() == []  # not before the commit
        uow.commit()
    with db.reading() as s:
        assert dict(s.execute(select(counts.c.name, counts.c.n)).all()) == {
            f"k{i}": 40 + i for i in range(10)
        }
    db.dispose()
