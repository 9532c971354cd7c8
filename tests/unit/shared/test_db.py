"""The unit of work's shared pre-commit jobs (``UnitOfWork.before_commit``): each runs once
per transaction, inside it, with every item asked for — and not at all when the
transaction rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, select

from shared.outbox import add_outbox_tables
from tests.fakes import FakeUnitOfWork

metadata = MetaData()
add_outbox_tables(metadata)
notes = Table("notes", metadata, Column("text", String, primary_key=True))


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
