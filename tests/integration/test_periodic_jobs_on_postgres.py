"""The workers' periodic jobs and the visit log on PostgreSQL (their SQL differs from
SQLite's): deadline sweep, month close, visit compliance and overdue flags, missed plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from onestop import migrate
from services import dispatch, visits
from services.dispatch import sweep
from services.dispatch.consumers import on_demand_accepted
from services.dispatch.models import assignments
from services.dispatch.seed import seed_responsibility
from services.visits import compliance, visitlog
from services.visits.handlers import on_department, on_enterprise, on_staff
from services.visits.models import plans
from services.visits.plans import create_plan, miss_overdue_plans
from shared.auth import Principal
from shared.config import load_settings
from shared.events import make_event
from shared.timezone import china_today
from tests.factories import accepted_payload

pytestmark = pytest.mark.integration
ADMIN = Principal(key_id="k", name="t", role="admin", jurisdiction="630000")


@pytest.fixture
def settings(postgres, tmp_path, request):
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    tag = request.node.name[:20].lower().replace("-", "_")
    for n in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        env[f"ONESTOP_{n.upper()}_DATABASE_URL"] = postgres.create_database(f"pj_{tag}_{n}")
    s = load_settings(env)
    migrate.upgrade(s, ("dispatch", "visits"))
    return s


def deliver(svc, consumer, handler, event_type, where, **payload):
    ev = make_event(event_type, 1, producer="x", jurisdiction=where, payload=payload)
    assert svc.inbox.apply(svc.uow, consumer, ev, handler)


def test_dispatch_sweep_and_month_close(settings):
    svc = dispatch.build(settings)
    svc.relay.notify = lambda: None
    seed_responsibility(
        svc.uow(),
        [("cd", "630102", "城东区", (), True)],
        [("lead", "cd", "赵敏", "副局长")],
        [("p1", "一", "patent", 5), ("p2", "二", "patent", 3)],
        "630100",
        leaders={"cd": "lead"},
        menu=[("ip_filing", 3000, None, None)],
    )
    for i in range(3):
        deliver(
            svc,
            "dispatch.on_demand_accepted",
            on_demand_accepted,
            "demand.accepted",
            "630102",
            **accepted_payload(
                demand_code=f"630102-2026-{i:06d}",
                category="ip",
                service_item="ip_filing",
                agency_category="patent",
                expected_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            ),
        )
    now = datetime.now(UTC)
    jobs = svc.uow()
    assert sweep.sweep_deadlines(jobs, now) == {"warning": 6, "overdue": 0, "unanswered": 0}
    assert sweep.sweep_deadlines(jobs, now + timedelta(hours=3)) == {
        "warning": 0,
        "overdue": 6,
        "unanswered": 0,
    }
    assert sweep.sweep_deadlines(jobs, now + timedelta(hours=3)) == {
        "warning": 0,
        "overdue": 0,
        "unanswered": 0,
    }
    today = china_today()
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    [closed] = sweep.close_months(jobs, first_next)
    assert {p["agency_id"] for p in closed["pauses"]} | {
        k["agency_id"] for k in closed["kept_active"]
    } == {"p1", "p2"}
    assert sweep.close_months(jobs, first_next) == []
    with svc.uow() as uow:
        uow.session.execute(update(assignments).values(due_at=None))
        uow.commit()


def test_visit_log_compliance_overdue_and_plans(settings):
    svc = visits.build(settings)
    svc.relay.notify = lambda: None
    c = "visits.on_x"
    deliver(
        svc,
        c + "1",
        on_department,
        "department.updated",
        "630102",
        id="cd",
        jurisdiction="630102",
        name="城东区",
        segments=[],
        is_default=True,
        leader_staff_id="lead",
    )
    deliver(
        svc,
        c + "2",
        on_staff,
        "staff.updated",
        "630102",
        id="lead",
        department_id="cd",
        jurisdiction="630102",
        name="赵敏",
        title="副局长",
    )
    deliver(
        svc,
        c + "3",
        on_enterprise,
        "enterprise.registered",
        "630102",
        credit_code="91630102MA7522T5X6",
        name="青海高原新材料",
        jurisdiction="630102",
        is_key=True,
        needs_named_person=False,
        needs_one_plan=False,
    )
    today = china_today()
    last_week = today - timedelta(days=7)
    v, _ = visitlog.log_visit(
        svc.uow(),
        ADMIN,
        {
            "staff_id": "lead",
            "enterprises": ["91630102MA7522T5X6"],
            "visited_on": last_week,
            "kind": "problem_solving",
        },
        correlation_id="cid",
        idempotency_key="key-1",
    )
    again, replayed = visitlog.log_visit(
        svc.uow(),
        ADMIN,
        {
            "staff_id": "lead",
            "enterprises": ["91630102MA7522T5X6"],
            "visited_on": last_week,
            "kind": "problem_solving",
        },
        correlation_id="cid",
        idempotency_key="key-1",
    )
    assert replayed and again["visit_id"] == v["visit_id"]
    page = visitlog.list_visits(svc.uow(), ADMIN, {"enterprise": "91630102MA7522T5X6", "limit": 10})
    assert [i["visit_id"] for i in page["items"]] == [v["visit_id"]]
    y, w, _ = last_week.isocalendar()
    report = compliance.compliance(svc.uow(), ADMIN, {"period": f"{y}-W{w:02d}"})
    [dept] = [i for i in report["items"] if i["subject_id"] == "cd"]
    assert (dept["required"], dept["done"], dept["status"]) == (1, 1, "met")
    assert compliance.flag_overdue(svc.uow(), today) >= 0  # runs on PostgreSQL; once per period
    assert compliance.flag_overdue(svc.uow(), today) == 0
    plan = create_plan(
        svc.uow(),
        ADMIN,
        {
            "staff_id": "lead",
            "enterprises": ["91630102MA7522T5X6"],
            "planned_on": today,
            "kind": "follow_up",
        },
        correlation_id="cid",
    )
    with svc.uow() as uow:
        uow.session.execute(
            update(plans).where(plans.c.id == plan["id"]).values(planned_on=date(2020, 1, 1))
        )
        uow.commit()
    assert miss_overdue_plans(svc.uow(), today) == 1
    assert miss_overdue_plans(svc.uow(), today) == 0
