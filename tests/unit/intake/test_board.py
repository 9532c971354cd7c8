"""The daily board (日调度): which demands each section holds at a day's end (or now),
in the actor's subtree only; the same as a workbook headed in Chinese."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from services.intake.board import board_workbook, daily_board, moment
from services.intake.models import demands
from shared.timezone import CHINA
from shared.usecases import Invalid, NotFound
from tests.fakes import actor


def _set(uow, code, **values):
    with uow:
        uow.session.execute(update(demands).where(demands.c.code == code).values(**values))
        uow.commit()


def _codes(board, section):
    return {item["code"] for item in board["sections"][section]}


def test_a_board_is_of_today_or_a_past_day_taken_at_its_end():
    now = datetime(2026, 12, 1, 4, tzinfo=UTC)  # 12:00 in China
    today = moment(date(2026, 12, 1), now)
    assert (today.start, today.end, today.at) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 1, 16, tzinfo=UTC),
        now,
    )
    assert moment(date(2026, 11, 30), now).at == datetime(2026, 11, 30, 16, tzinfo=UTC)
    with pytest.raises(ValueError):
        moment(date(2026, 12, 2), now)


def test_each_section_holds_its_demands(uow, accept):
    now = datetime.now(UTC)
    staff = actor("staff")
    new, due, late, escalated, closed = (accept()["code"] for _ in range(5))
    end_of_today = datetime.combine(now.astimezone(CHINA).date(), datetime.max.time(), CHINA)
    _set(uow, due, expected_at=min(now + timedelta(minutes=30), end_of_today), responded_at=now)
    _set(uow, late, expected_at=now - timedelta(hours=1), respond_by=now - timedelta(hours=2))
    _set(uow, escalated, escalated_at=now - timedelta(minutes=1), escalated_to="王科长")
    _set(uow, closed, status="closed", closed_at=now, expected_at=now - timedelta(days=1))
    _set(uow, new, responded_at=now)
    board = daily_board(uow, staff, "630102")
    assert board["date"] == now.astimezone(CHINA).date()
    assert _codes(board, "new") == {new, due, late, escalated, closed}  # all accepted today
    assert _codes(board, "due_today") == {due}
    assert _codes(board, "overdue") == {late}  # the closed one is no longer overdue
    assert _codes(board, "escalated") == {escalated}
    assert _codes(board, "awaiting_response") == {late, escalated}
    [item] = board["sections"]["overdue"]
    assert item["response_late"] is True and item["respond_by"] == now - timedelta(hours=2)
    assert board["counts"] == {
        "new": 5,
        "due_today": 1,
        "overdue": 1,
        "escalated": 1,
        "awaiting_response": 2,
    }
    assert daily_board(uow, actor("district", "630100"), "630100")["counts"]["new"] == 5


def test_a_past_days_board_is_as_it_stood_at_that_days_end(uow, accept):
    now = datetime.now(UTC)
    code = accept()["code"]
    yesterday = now.astimezone(CHINA).date() - timedelta(days=1)
    end = datetime.combine(yesterday + timedelta(days=1), datetime.min.time(), CHINA)
    _set(  # accepted yesterday, overdue by its end, closed since
        uow,
        code,
        accepted_at=end - timedelta(hours=5),
        expected_at=end - timedelta(hours=1),
        status="closed",
        closed_at=now,
    )
    board = daily_board(uow, actor("staff"), "630102", yesterday)
    assert _codes(board, "new") == _codes(board, "overdue") == {code}
    assert board["as_of"] == end.astimezone(UTC)
    assert daily_board(uow, actor("staff"), "630102")["counts"]["overdue"] == 0


def test_only_a_jurisdiction_of_the_subtree_and_never_a_future_day(uow, accept):
    now = datetime.now(UTC)
    accept()
    with pytest.raises(NotFound):
        daily_board(uow, actor("staff", "630103"), "630102")
    with pytest.raises(NotFound):
        daily_board(uow, actor("staff"), "630199")  # no such unit
    assert daily_board(uow, actor("staff", "630103"), "630103")["counts"]["new"] == 0
    with pytest.raises(Invalid) as bad:
        daily_board(uow, actor("staff"), "630102", now.date() + timedelta(days=2))
    assert bad.value.fields == {"query": {"date": ["a daily board is of today or a past day"]}}


def test_the_workbook_has_a_summary_and_a_sheet_per_section(uow, accept):
    now = datetime.now(UTC)
    code = accept(consent_to_share=False)["code"]
    _set(uow, code, expected_at=now - timedelta(hours=1))
    content, m = board_workbook(uow, actor("staff"), "630102")
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.sheetnames == ["总览", "新受理", "今日到期", "已超期", "已督办", "待响应"]
    summary = [list(r) for r in book["总览"].iter_rows(values_only=True)]
    assert summary[0] == ["日调度", "630102", m.day.isoformat()]
    assert ["已超期", 1] in summary and ["今日到期", 0] in summary
    rows = [list(r) for r in book["已超期"].iter_rows(values_only=True)]
    assert rows[0][0] == "需求编码" and "首次响应时限" in rows[0]
    assert rows[1][0] == code
    assert "（未经企业同意，不予导出）" in rows[1]  # no content without consent
