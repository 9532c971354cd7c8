"""The worker's periodic jobs (deadline warnings and breaches, the month close) and the
month close on request, against a fake unit of work."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from services.dispatch import sweep
from services.dispatch.models import agencies, assignments, breaches
from shared.timezone import china_today
from tests.fakes import actor

ADMIN = actor("admin", "630100")


def test_deadline_sweep_warns_once_then_escalates_once_to_the_leader(alliance, events, accept):
    code = accept()
    now = datetime.now(UTC)
    with alliance:
        alliance.session.execute(
            update(assignments)
            .where(assignments.c.demand_code == code)
            .values(due_at=now + timedelta(hours=3))
        )
        alliance.commit()
    assert sweep.sweep_deadlines(alliance, now) == {"warning": 2, "overdue": 0, "unanswered": 0}
    assert sweep.sweep_deadlines(alliance, now) == {"warning": 0, "overdue": 0, "unanswered": 0}
    later = now + timedelta(hours=4)
    assert sweep.sweep_deadlines(alliance, later) == {"warning": 0, "overdue": 2, "unanswered": 0}
    assert sweep.sweep_deadlines(alliance, later) == {"warning": 0, "overdue": 0, "unanswered": 0}
    overdue = [e["payload"] for e, _ in events("assignment.deadline")]
    assert {p["level"] for p in overdue} == {"warning", "overdue"}
    escalated = [p for p in overdue if p["level"] == "overdue"]
    assert all(p["escalate_to"]["staff_id"] == "s-lead" for p in escalated)
    with alliance.read() as s:
        assert len(s.execute(select(breaches)).all()) == 4
    listed = sweep.list_breaches(alliance, actor("staff", "630102"), {"limit": 3})
    assert len(listed) == 3 and {b["demand_code"] for b in listed} == {code}
    assert sweep.list_breaches(alliance, actor("staff", "630103"), {"limit": 10}) == []


def test_an_owner_that_has_not_responded_in_time_is_escalated_once(alliance, events, accept):
    code, answered = accept(), accept()
    now = datetime.now(UTC)
    owner = (assignments.c.kind == "owner") & assignments.c.demand_code.in_((code, answered))
    with alliance:
        alliance.session.execute(
            update(assignments).where(owner).values(respond_by=now + timedelta(hours=1))
        )
        alliance.session.execute(  # the other owner screened it in time
            update(assignments)
            .where(owner, assignments.c.demand_code == answered)
            .values(responded_at=now)
        )
        alliance.commit()
    assert sweep.sweep_deadlines(alliance, now)["unanswered"] == 0  # not due yet
    later = now + timedelta(hours=2)
    assert sweep.sweep_deadlines(alliance, later)["unanswered"] == 1
    assert sweep.sweep_deadlines(alliance, later)["unanswered"] == 0  # announced once
    [p] = [
        e["payload"]
        for e, _ in events("assignment.deadline")
        if e["payload"]["level"] == "unanswered"
    ]
    assert p["demand_code"] == code and p["kind"] == "owner"
    assert p["escalate_to"]["staff_id"] == "s-lead"
    assert datetime.fromisoformat(p["due_at"]) == now + timedelta(hours=1)
    with alliance.read() as s:
        levels = set(
            s.execute(select(breaches.c.level).where(breaches.c.demand_code == code)).scalars()
        )
    assert "unanswered" in levels


def test_month_close_pauses_an_agency_above_a_cap_once(alliance, accept):
    for _ in range(3):
        accept()  # pat-a, pat-b, pat-a: pat-a ends with 2 of 3 ip_filing orders
    with alliance.read() as s:
        month = s.execute(
            select(assignments.c.month).where(assignments.c.kind == "agency")
        ).scalar()
    y, m = map(int, month.split("-"))
    next_first = date(y + (m == 12), m % 12 + 1, 1)
    [summary] = sweep.close_months(alliance, today=next_first)
    paused = {p["agency_id"] for p in summary["pauses"]}
    kept = {k["agency_id"] for k in summary["kept_active"]}
    # both patent members ended above a cap (value shares 67 % / 33 % > 30 %): the lower
    # share stays active so the category is never left empty
    assert paused == {"pat-a"} and kept == {"pat-b"}
    assert sweep.close_months(alliance, today=next_first) == []  # closed once
    with alliance.read() as s:
        row = s.execute(select(agencies).where(agencies.c.id == "pat-a")).mappings().one()
    assert row["status"] == "paused" and row["paused_until"].day >= 28


def test_announced_deadlines_never_crowd_out_the_rest(alliance, accept, monkeypatch):
    monkeypatch.setattr(sweep, "BATCH", 1)
    now = datetime.now(UTC)
    first, second = accept(), accept()
    with alliance:
        for code, hours in ((first, -2), (second, -1)):
            alliance.session.execute(
                update(assignments)
                .where(assignments.c.demand_code == code)
                .values(due_at=now + timedelta(hours=hours))
            )
        alliance.commit()
    flagged = set()
    for _ in range(4):  # one row per sweep: each sweep takes the next one still owed
        sweep.sweep_deadlines(alliance, now)
        with alliance.read() as s:
            flagged = set(s.execute(select(breaches.c.demand_code)).scalars())
    assert flagged == {first, second}


def test_expired_pauses_are_lifted_at_the_month_close(alliance, events):
    today = china_today()
    with alliance:
        alliance.session.execute(
            update(agencies)
            .where(agencies.c.id == "fin-a")
            .values(status="paused", paused_until=today - timedelta(days=1))
        )
        alliance.commit()
    [closed] = sweep.close_months(alliance, today)  # last month had no orders: no pauses
    assert closed["pauses"] == [] and closed["kept_active"] == []
    with alliance.read() as s:
        assert s.execute(select(agencies.c.status).where(agencies.c.id == "fin-a")).scalar() == (
            "active"
        )
    [(msg, _)] = events("agency.status_changed")
    assert (msg["payload"]["to_status"], msg["payload"]["reason"]) == ("active", "pause ended")


def test_a_warning_comes_within_the_warning_hours_and_the_breach_after_the_limit():
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    warn = timedelta(hours=24)
    assert sweep.deadline_level(now, warn, now) == "overdue"
    assert sweep.deadline_level(now - timedelta(seconds=1), warn, now) == "overdue"
    assert sweep.deadline_level(now + warn, warn, now) == "warning"
    assert sweep.deadline_level(now + timedelta(hours=1), warn, now) == "warning"
    assert sweep.deadline_level(now + warn + timedelta(seconds=1), warn, now) is None


def test_a_past_month_is_closed_on_request_once(alliance, accept, refusal):
    accept()
    this_month = china_today().strftime("%Y-%m")
    status, e = refusal(
        lambda: sweep.close_past_month(alliance, ADMIN, "630100", {"month": this_month})
    )
    assert status == 422 and e.fields == {"json": {"month": ["not a past month"]}}
    status, _ = refusal(
        lambda: sweep.close_past_month(
            alliance, actor("admin", "630200"), "630100", {"month": "2020-01"}
        )
    )
    assert status == 403
    done = sweep.close_past_month(alliance, ADMIN, "630100", {"month": "2020-01"})
    assert (done["city"], done["month"], done["pauses"]) == ("630100", "2020-01", [])
    status, e = refusal(
        lambda: sweep.close_past_month(alliance, ADMIN, "630100", {"month": "2020-01"})
    )
    assert status == 409 and e.message == "630100 2020-01 is already closed."


def test_each_escalated_breach_is_counted_once_by_kind(alliance, accept):
    from services.dispatch.metrics import BREACHES

    def count(kind):
        return BREACHES.labels(kind)._value.get()

    before = {k: count(k) for k in ("overdue", "unanswered")}
    code = accept()
    now = datetime.now(UTC)
    with alliance:
        alliance.session.execute(
            update(assignments)
            .where(assignments.c.demand_code == code)
            .values(due_at=now - timedelta(minutes=1), respond_by=now - timedelta(minutes=1))
        )
        alliance.commit()
    counts = sweep.sweep_deadlines(alliance, now)
    assert counts["overdue"] == 2 and counts["unanswered"] == 1
    sweep.sweep_deadlines(alliance, now)  # announced already: not counted again
    assert count("overdue") - before["overdue"] == 2
    assert count("unanswered") - before["unanswered"] == 1
