"""The unit of work: its shared pre-commit jobs (``UnitOfWork.before_commit``) run once per
transaction, inside it, with every item asked for — and not at all when the transaction
rolls back; its events reach the outbox with the commit, in the order emitted; the
shared ``upsert`` and ``claim`` keep their meaning with statements built once; and rows
written later (``write_later``) are written in one executemany per statement, before
anything that could see them and before the commit, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select, text, update

from shared.db import claim, claim_later, upsert, upsert_later, write_later
from shared.events import Event
from shared.outbox import add_outbox_tables
from tests.fakes import FakeUnitOfWork

metadata = MetaData()
outbox, _, _ = add_outbox_tables(metadata)
notes = Table("notes", metadata, Column("text", String, primary_key=True))
counts = Table(
    "counts",
    metadata,
    Column("name", String, primary_key=True),
    Column("n", Integer),
    Column("label", String),
)


@pytest.fixture
def uow(tmp_path):
    return FakeUnitOfWork(metadata, tmp_path / "db.db")


def test_a_job_runs_once_before_the_commit_with_each_item_once_in_first_order(uow):
    runs = []

    def note(session, items):
        runs.append(list(items))
        session.execute(notes.insert(), [{"text": i} for i in items])

    with uow:
        for item in ("b", "a", "b", "c", "a"):  # three handlers ask for overlapping work
            uow.before_commit(note, item)
        assert runs == []  # nothing yet
        uow.commit()
    assert runs == [["b", "a", "c"]]
    with uow.read() as s:  # written in the committed transaction
        assert sorted(s.execute(select(notes.c.text)).scalars()) == ["a", "b", "c"]
    with uow:
        uow.commit()  # the next transaction starts with no jobs
    assert runs == [["b", "a", "c"]]


def test_a_rolled_back_transaction_runs_none_of_its_jobs(uow):
    runs = []
    with uow:
        uow.before_commit(lambda session, items: runs.append(items), "x")
        uow.rollback()
        uow.commit()
    with uow:
        uow.before_commit(lambda session, items: runs.append(items), "y")
    with uow:  # left without a commit: rolled back, and its jobs forgotten
        uow.commit()
    assert runs == []


def test_a_failing_job_fails_the_commit_and_writes_nothing(uow):
    def failing(session, items):
        session.execute(notes.insert(), [{"text": "half"}])
        raise RuntimeError("no")

    with uow:
        uow.session.execute(notes.insert(), [{"text": "handler's"}])
        uow.before_commit(failing, 1)
        with pytest.raises(RuntimeError):
            uow.commit()
    with uow.read() as s:
        assert s.execute(select(notes.c.text)).all() == []


def _event(n: int) -> Event:
    return Event("thing.happened", 1, "test", "630102", {"n": n}, correlation_id="c")


def test_emitted_events_reach_the_outbox_with_the_commit_in_the_order_emitted(uow):
    events = [_event(n) for n in (3, 1, 2)]
    with uow:
        for e in events:
            uow.emit(e)
        uow.session.execute(notes.insert(), [{"text": "work"}])
        uow.commit()
    with uow.read() as s:
        rows = s.execute(select(outbox.c.event_id, outbox.c.body).order_by(outbox.c.seq)).all()
    assert [r.event_id for r in rows] == [e.event_id for e in events]
    assert [r.body for r in rows] == [e.to_json() for e in events]
    assert uow.committed == events
    with uow:
        uow.commit()  # a transaction that emitted nothing writes no outbox row
    with uow.read() as s:
        assert len(s.execute(select(outbox.c.seq)).all()) == 3


def test_events_of_a_rolled_back_or_failed_transaction_never_reach_the_outbox(uow):
    with uow:
        uow.emit(_event(1))
        uow.rollback()
        uow.commit()
    with uow:
        uow.emit(_event(2))  # left without a commit

    def failing(session, items):
        raise RuntimeError("no")

    with uow:
        uow.emit(_event(3))
        uow.before_commit(failing, 1)
        with pytest.raises(RuntimeError):
            uow.commit()
    with uow.read() as s:
        assert s.execute(select(outbox.c.seq)).all() == []
    assert uow.committed == []


def test_upsert_inserts_then_updates_only_the_columns_given(uow):
    with uow:
        upsert(uow.session, counts, {"name": "a"}, {"n": 1, "label": "first"})
        upsert(uow.session, counts, {"name": "a"}, {"n": 2})  # another set of columns
        upsert(uow.session, counts, {"name": "b"}, {"label": "b"})
        upsert(uow.session, counts, {"name": "b"}, {})  # exists: nothing changes
        upsert(uow.session, counts, {"name": "c"}, {})  # inserted with its key alone
        uow.commit()
    with uow.read() as s:
        rows = s.execute(select(counts).order_by(counts.c.name)).all()
    assert [tuple(r) for r in rows] == [("a", 2, "first"), ("b", None, "b"), ("c", None, None)]


def test_claim_is_true_only_for_the_call_that_inserted_the_row(uow):
    with uow:
        assert claim(uow.session, uow.db, counts, name="x", n=1) is True
        assert claim(uow.session, uow.db, counts, name="x", n=2) is False
        assert claim(uow.session, uow.db, counts, name="y", label="y") is True
        uow.commit()
    with uow.read() as s:
        rows = s.execute(select(counts).order_by(counts.c.name)).all()
    assert [tuple(r) for r in rows] == [("x", 1, None), ("y", None, "y")]


@pytest.fixture
def statements(uow):
    """Each statement the unit of work's engine runs: (SQL verb, table words, rows)."""
    seen: list[tuple[str, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        rows = len(parameters) if executemany else 1
        seen.append((" ".join(statement.split()[:3]), rows))

    event.listen(uow.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(uow.db.engine, "before_cursor_execute", record)


def _writes(seen):
    return [(s, n) for s, n in seen if s.split()[0] in ("INSERT", "UPDATE")]


def test_rows_written_later_go_in_one_executemany_per_statement_at_the_commit(uow, statements):
    with uow:
        for i in range(5):
            claim_later(uow, notes, text=f"n{i}")
            upsert_later(uow, counts, {"name": f"c{i % 2}"}, {"n": i})
        assert _writes(statements) == []  # nothing written yet
        uow.commit()
    assert [n for _, n in _writes(statements)] == [5, 5]
    with uow.read() as s:
        assert s.scalar(select(func.count()).select_from(notes)) == 5
        # the rows of one key in the order deferred: the last one stands
        assert s.execute(select(counts.c.name, counts.c.n).order_by("name")).all() == [
            ("c0", 4),
            ("c1", 3),
        ]


def test_a_select_of_their_table_sees_them_and_one_of_another_table_does_not_write_them(
    uow, statements
):
    with uow:
        claim_later(uow, notes, text="a")
        claim_later(uow, notes, text="a")  # its key exists by then: ignored
        uow.session.execute(select(counts)).all()  # another table
        assert _writes(statements) == []
        assert uow.session.scalars(select(notes.c.text)).all() == ["a"]
        assert _writes(statements) == [("INSERT INTO notes", 2)]
        uow.commit()


@pytest.mark.parametrize(
    "statement",
    [
        text("SELECT count(*) FROM notes"),  # textual: could read anything
        update(counts).values(n=1),  # any write keeps its place after them
        select(counts).where(counts.c.name.in_(select(notes.c.text))),  # a subquery
    ],
    ids=["textual", "write", "subquery"],
)
def test_what_could_see_them_is_run_after_them(uow, statements, statement):
    with uow:
        claim_later(uow, notes, text="a")
        uow.session.execute(statement)
        assert statements[-2] == ("INSERT INTO notes", 1)
        uow.commit()


def test_rows_of_one_table_keep_their_order_across_statements(uow, statements):
    bump = update(counts).where(counts.c.name == "a").values(n=counts.c.n + 10)
    with uow:
        upsert_later(uow, counts, {"name": "a"}, {"n": 1})
        write_later(uow, bump, {})
        upsert_later(uow, counts, {"name": "a"}, {"n": 2})  # after the bump: not joined
        claim_later(uow, notes, text="x")
        upsert_later(uow, counts, {"name": "b"}, {"n": 3})  # joins the last upsert
        uow.commit()
    assert [n for _, n in _writes(statements)] == [1, 1, 2, 1]
    with uow.read() as s:
        assert s.execute(select(counts.c.name, counts.c.n).order_by("name")).all() == [
            ("a", 2),
            ("b", 3),
        ]


def test_rows_written_later_are_not_written_when_the_transaction_rolls_back(uow):
    with uow:
        claim_later(uow, notes, text="gone")
    with uow:
        claim_later(uow, notes, text="also gone")
        uow.rollback()
        uow.commit()
    with uow.read() as s:
        assert s.scalar(select(func.count()).select_from(notes)) == 0


def test_a_session_committed_directly_writes_them_first(uow):
    with uow:
        claim_later(uow, notes, text="kept")
        uow.session.commit()
    with uow.read() as s:
        assert s.scalars(select(notes.c.text)).all() == ["kept"]


def test_inside_a_savepoint_a_row_is_written_at_once_and_pending_rows_are_refused(uow):
    with uow:
        with uow.session.begin_nested() as savepoint:
            claim_later(uow, notes, text="in the savepoint")
            savepoint.rollback()
        claim_later(uow, notes, text="before a savepoint")
        with pytest.raises(RuntimeError, match="savepoint"), uow.session.begin_nested():
            uow.session.execute(select(notes)).all()
        uow.rollback()
    with uow.read() as s:
        assert s.scalar(select(func.count()).select_from(notes)) == 0
