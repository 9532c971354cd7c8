"""A demand's closed loop over HTTP (embedded shape): 受理→办理→反馈→跟踪→办结, revisit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from werkzeug.test import Client

from shared.timezone import CHINA
from tests.e2e.support import auth, trace
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e


def post(c, h, **extra):
    r = c.post("/intake/api/v1/demands", json={**DEMO_DEMAND, **extra}, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def post_raw(c, h, **extra):
    return c.post("/intake/api/v1/demands", json={**DEMO_DEMAND, **extra}, headers=h)


def step(c, h, code, to, note="", **kw):
    return c.post(
        f"/intake/api/v1/demands/{code}/transitions", json={"to": to, "note": note, **kw}, headers=h
    )


def test_the_whole_loop_to_a_satisfaction_rating(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    d = post(c, h, complexity="general")
    code = d["code"]
    assert d["status"] == "accepted" and d["complexity"] == "general"
    due = datetime.fromisoformat(d["expected_datetime"])
    assert due.hour == 10 and due.minute == 0  # 18:00 in China is 10:00 UTC
    assert code in d["service_notice"] and "一般需求" in d["service_notice"]
    for to, note in [
        ("in_progress", "派专人对接"),
        ("feedback", "已提供工艺方案"),
        ("follow_up", "跟踪试产"),
    ]:
        r = step(c, h, code, to, note)
        assert r.status_code == 200 and r.get_json()["status"] == to
    r = step(c, h, code, "closed", "试产成功", resolution="solved")
    closed = r.get_json()
    assert closed["status"] == "closed" and closed["resolution"] == "solved"
    r = c.post(
        f"/intake/api/v1/demands/{code}/revisit", json={"rating": 5, "comment": "满意"}, headers=h
    )
    assert r.status_code == 200
    assert r.get_json()["satisfaction"] == {"rating": 5, "comment": "满意"}
    assert r.get_json()["status"] == "closed"
    again = c.post(f"/intake/api/v1/demands/{code}/revisit", json={"rating": 4}, headers=h)
    assert again.status_code == 409  # one revisit per demand
    feed = c.get(f"/intake/api/v1/demands/{code}/updates", headers=h).get_json()["items"]
    assert [(u["kind"], u["to_status"]) for u in feed] == [
        ("transition", "accepted"),
        ("transition", "in_progress"),
        ("transition", "feedback"),
        ("transition", "follow_up"),
        ("transition", "closed"),
        ("revisit", None),
    ]
    assert all(u["actor"] and u["at"] for u in feed)
    assert feed[4]["details"] == {"resolution": "solved", "on_time": True}
    text = c.get("/intake/metrics").get_data(as_text=True)
    assert 'onestop_demands_total{category="technology",event="closed",level="county"}' in text
    assert "onestop_demand_closure_rate" in text and "onestop_demands_overdue 0.0" in text
    events = wait_for(lambda: (ev := trace(c, h, code)) and len(ev) >= 7 and ev)
    types = [e["event_type"] for e in events]
    assert types[0] == "demand.accepted" and "assignment.made" in types
    mine = [t for t in types if t.startswith("demand.")]  # dispatch's event may come anywhere
    assert mine == ["demand.accepted", *["demand.status_changed"] * 4, "demand.revisited"]


def test_illegal_steps_are_409s_naming_the_allowed_ones(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    code = post(c, h)["code"]
    r = step(c, h, code, "closed", "done", resolution="solved")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "illegal_transition"
    assert "in_progress, rejected" in err["fields"]["json"]["to"][0]
    assert step(c, h, code, "rejected").status_code == 409  # no reason given
    assert step(c, h, code, "rejected", "已解决，不属于服务范围").status_code == 200
    assert step(c, h, code, "in_progress", "x").status_code == 409  # rejected is final
    assert step(c, h, code, "nowhere").status_code == 422
    assert step(c, h, "630102-2026-999999", "in_progress").status_code == 404


def test_unsolvable_needs_an_explanation_and_a_low_rating_reopens(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    code = post(c, h)["code"]
    for to in ("in_progress", "feedback"):
        assert step(c, h, code, to).status_code == 200
    assert step(c, h, code, "closed", resolution="unsolvable").status_code == 409
    r = step(c, h, code, "closed", "国内暂无成熟技术，已向企业说明", resolution="unsolvable")
    assert r.status_code == 200
    r = c.post(
        f"/intake/api/v1/demands/{code}/revisit", json={"rating": 2, "comment": "不满意"}, headers=h
    )
    assert r.get_json()["status"] == "follow_up" and r.get_json()["closed_at"] is None
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {}):
        assert (
            c.post(f"/intake/api/v1/demands/{code}/revisit", json=bad, headers=h).status_code == 422
        )


def test_screening_moves_the_deadline_and_time_limits_are_data(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    d = post(c, h, complexity="simple")
    simple_due = datetime.fromisoformat(d["expected_datetime"])
    r = c.patch(
        f"/intake/api/v1/demands/{d['code']}/screening",
        json={"complexity": "complex", "urgency": "high", "feasibility": "medium"},
        headers=h,
    )
    assert r.status_code == 200
    s = r.get_json()
    assert (s["complexity"], s["urgency"], s["feasibility"]) == ("complex", "high", "medium")
    assert datetime.fromisoformat(s["expected_datetime"]) > simple_due
    rules = c.get("/intake/api/v1/time-limits/630102", headers=h).get_json()
    assert rules == {
        "jurisdiction": "630102",
        "source": "default",
        "simple": 0,
        "general": 5,
        "complex": 20,
        "response_hours": 4,
        "closures": [],
    }
    admin = auth(platform, "admin")
    body = {"simple": 0, "general": 3, "complex": 15, "closures": ["2026-12-24"]}
    assert c.put("/intake/api/v1/time-limits/630100", json=body, headers=h).status_code == 403
    r = c.put("/intake/api/v1/time-limits/630100", json=body, headers=admin)
    assert r.status_code == 200 and r.get_json()["source"] == "630100"
    inherited = c.get("/intake/api/v1/time-limits/630102", headers=h).get_json()
    assert inherited["source"] == "630100" and inherited["general"] == 3
    bad = {**body, "general": -1}
    assert c.put("/intake/api/v1/time-limits/630100", json=bad, headers=admin).status_code == 422
    assert c.get("/intake/api/v1/time-limits/620100", headers=h).status_code == 404


def test_idempotency_key_makes_retries_safe(platform):
    c = Client(platform.wsgi)
    h = {**auth(platform, "district"), "Idempotency-Key": "district-sys-req-0001"}
    first = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
    again = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    other = c.post("/intake/api/v1/demands", json={**DEMO_DEMAND, "title": "另一个"}, headers=h)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    listed = c.get("/intake/api/v1/demands?limit=500", headers=auth(platform, "district"))
    assert [d["code"] for d in listed.get_json()["items"]].count(first.get_json()["code"]) == 1
    bad = c.post(
        "/intake/api/v1/demands", json=DEMO_DEMAND, headers={**h, "Idempotency-Key": "has space"}
    )
    assert bad.status_code == 422


def test_catalogue_and_service_items(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    cats = c.get("/intake/api/v1/services", headers=h).get_json()["categories"]
    assert [x["code"] for x in cats] == [
        "technology",
        "talent",
        "funding",
        "achievement_transfer",
        "ip",
        "other",
    ]
    items = {i["code"]: i for x in cats for i in x["items"]}
    assert items["ip_filing"]["agency_category"] == "patent"
    assert items["finance_matching"]["agency_category"] == "finance"
    d = post(
        c, h, category="ip", service_item="ip_filing", ordered_agency="ag-pat-2", source="order"
    )
    assert d["service_item"] == "ip_filing" and d["ordered_agency"] == "ag-pat-2"
    events = wait_for(lambda: (ev := trace(c, h, d["code"])) and ev)
    assert events[0]["payload"]["agency_category"] == "patent"
    assert events[0]["payload"]["ordered_agency"] == "ag-pat-2"
    r = c.post(
        "/intake/api/v1/demands", json={**DEMO_DEMAND, "service_item": "ip_filing"}, headers=h
    )  # technology demand, IP item
    assert r.status_code == 422 and "service_item" in r.get_json()["error"]["fields"]["json"]
    r = c.post(
        "/intake/api/v1/demands", json={**DEMO_DEMAND, "service_item": "astrology"}, headers=h
    )
    assert r.status_code == 422


def test_demand_queries_filter_and_page(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "staff")  # the city sees its districts
    in_district = {
        "630102": "91630102MA7522T5X6",
        "630103": "91630103MA75A3KX7N",
        "630105": "91630105MA7NHP6Q1L",
    }  # demo enterprises
    codes = [
        post(c, h, category=cat, enterprise={"credit_code": in_district[j]})["code"]
        for j, cat in [
            ("630102", "technology"),
            ("630103", "talent"),
            ("630102", "talent"),
            ("630105", "funding"),
            ("630102", "ip"),
        ]
    ]
    seen, cursor = [], None
    while True:
        url = "/intake/api/v1/demands?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = c.get(url, headers=h).get_json()
        seen += [d["code"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(codes) and len(seen) == len(set(seen))
    talent = c.get("/intake/api/v1/demands?category=talent", headers=h).get_json()["items"]
    assert sorted(d["code"] for d in talent) == sorted([codes[1], codes[2]])
    sub = c.get("/intake/api/v1/demands?jurisdiction=630102", headers=h).get_json()["items"]
    assert {d["jurisdiction"] for d in sub} == {"630102"} and len(sub) == 3
    assert c.get("/intake/api/v1/demands?overdue=true", headers=h).get_json()["items"] == []
    assert len(c.get("/intake/api/v1/demands?overdue=false", headers=h).get_json()["items"]) == 5
    ent = DEMO_DEMAND["enterprise"]["credit_code"]
    assert (
        len(c.get(f"/intake/api/v1/demands?enterprise={ent}", headers=h).get_json()["items"]) == 3
    )
    wrong = post_raw(c, h, jurisdiction="630103")  # 城东区's enterprise filed in 城中区
    assert wrong.status_code == 422 and "registered in 630102" in str(wrong.get_json())
    r = c.get("/intake/api/v1/demands?accepted_from=2030-01-01T00:00:00%2B08:00", headers=h)
    assert r.get_json()["items"] == []
    bad = (
        "/intake/api/v1/demands?accepted_from=2026-02-01T00:00:00Z&accepted_to=2026-01-01T00:00:00Z"
    )
    assert c.get(bad, headers=h).status_code == 422
    assert c.get("/intake/api/v1/demands?status=pending", headers=h).status_code == 422
    assert c.get("/intake/api/v1/demands?cursor=xyz", headers=h).status_code == 422
    assert c.get("/intake/api/v1/demands?jurisdiction=620100", headers=h).status_code == 403


def test_the_demand_ledger_is_an_xlsx_of_what_the_filters_select(platform, monkeypatch):
    """需求台账: every demand the filters select (no page), headed in Chinese, newest first;
    without consent no title, description or contact; the filters' 422s stand."""
    import io

    from openpyxl import load_workbook

    c = Client(platform.wsgi)
    h = auth(platform, "district")
    shared = post(c, h, consent_to_share=True, title="烧结工艺改进", category="technology")
    private = post(c, h, consent_to_share=False, title="保密的需求", category="technology")
    other = post(c, h, category="talent")
    r = c.get("/intake/api/v1/demands?format=xlsx&category=technology", headers=h)
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(r.get_data())).active.iter_rows(values_only=True))
    head, lines = rows[0], rows[1:]
    assert head[:3] == ("需求编码", "受理时间", "辖区") and "办理状态" in head
    by_code = {line[0]: dict(zip(head, line, strict=True)) for line in lines}
    assert set(by_code) >= {shared["code"], private["code"]} and other["code"] not in by_code
    assert by_code[shared["code"]]["需求标题"] == "烧结工艺改进"
    assert by_code[shared["code"]]["办理状态"] == "已受理"
    assert by_code[shared["code"]]["需求类别"] == "技术需求"
    assert "不予导出" in by_code[private["code"]]["需求标题"]
    assert "保密的需求" not in str(rows)
    assert c.get("/intake/api/v1/demands?format=pdf", headers=h).status_code == 422
    bad = c.get("/intake/api/v1/demands?format=xlsx&status=pending", headers=h)
    assert bad.status_code == 422 and "status" in str(bad.get_json())
    monkeypatch.setattr("services.intake.ledger.LIMIT", 1)  # too many: narrow the filters
    big = c.get("/intake/api/v1/demands?format=xlsx", headers=h)
    assert big.status_code == 422
    assert "narrow them" in big.get_json()["error"]["fields"]["query"]["accepted_from"][0]


def test_a_demand_collected_offline_counts_its_time_limits_from_its_receipt(platform):
    """Received at the window last week and entered today: its deadline counts from the
    receipt (and may already have passed); a receipt in the future or over 30 days back is
    a 422 naming the field; none given means received as accepted."""
    from datetime import timedelta

    from services.intake.calendar import WorkingCalendar
    from shared.timezone import CHINA

    c = Client(platform.wsgi)
    h = auth(platform, "district")
    received = datetime.now(UTC) - timedelta(days=8)
    d = post(c, h, complexity="general", source="window", received_at=received.isoformat())
    assert abs(datetime.fromisoformat(d["received_at"]) - received) < timedelta(seconds=1)
    due = datetime.fromisoformat(d["expected_datetime"])
    assert due == WorkingCalendar().deadline(received, 5).due.astimezone(CHINA)
    assert due < datetime.fromisoformat(d["accepted_at"]) + timedelta(days=5)
    events = wait_for(lambda: trace(c, h, d["code"]))
    accepted = next(e for e in events if e["event_type"] == "demand.accepted")
    assert accepted["payload"]["received_at"]  # archived with the demand
    plain = post(c, h)
    assert plain["received_at"] == plain["accepted_at"]
    for when, why in [
        (datetime.now(UTC) + timedelta(hours=1), "future"),
        (datetime.now(UTC) - timedelta(days=31), "30 days"),
    ]:
        r = post_raw(c, h, received_at=when.isoformat())
        assert r.status_code == 422
        assert why in r.get_json()["error"]["fields"]["json"]["received_at"][0]
    assert post_raw(c, h, received_at="2026-11-30T10:00:00").status_code == 422  # no zone


def test_content_type_size_and_docs(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    r = c.post(
        "/intake/api/v1/demands",
        data="title=x",
        headers={**h, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_media_type"
    huge = {**DEMO_DEMAND, "description": "x" * (2 << 20)}
    r = c.post("/intake/api/v1/demands", json=huge, headers=h)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"
    page = c.get("/intake/docs")
    assert page.status_code == 200 and b"swagger-ui/swagger-ui-bundle.js" in page.data
    assert c.get("/intake/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_progress_reported_by_the_owner_moves_the_loop_through_events(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    code = post(c, h)["code"]
    [a] = wait_for(
        lambda: c.get(f"/dispatch/api/v1/assignments?demand_code={code}", headers=h).get_json()[
            "items"
        ]
    )
    url = f"/dispatch/api/v1/assignments/{a['id']}/progress"
    assert (
        c.post(
            url, json={"stage": "started", "note": "已约企业面谈"}, headers=auth(platform, "agency")
        ).status_code
        == 404
    )  # not its assignment
    r = c.post(url, json={"stage": "started", "note": "已约企业面谈"}, headers=h)
    assert r.status_code == 202
    demand = f"/intake/api/v1/demands/{code}"
    wait_for(lambda: c.get(demand, headers=h).get_json()["status"] == "in_progress")
    c.post(url, json={"stage": "feedback", "note": "方案已反馈"}, headers=h)
    wait_for(lambda: c.get(demand, headers=h).get_json()["status"] == "feedback")
    c.post(url, json={"stage": "started", "note": "迟到的报告"}, headers=h)  # not a legal step now
    feed = wait_for(
        lambda: (
            (f := c.get(f"{demand}/updates", headers=h).get_json()["items"])
            and f[-1]["kind"] == "progress"
            and f
        )
    )
    assert c.get(demand, headers=h).get_json()["status"] == "feedback"
    steps = [(u["kind"], u["to_status"], u["actor"]) for u in feed]
    assert steps[1] == ("transition", "in_progress", "department:城东区科学技术局")
    assert steps[2] == ("transition", "feedback", "department:城东区科学技术局")
    assert "cannot become in_progress" in feed[-1]["details"]["no_change"]
    assert c.post(url, json={"stage": "done"}, headers=h).status_code == 422


def test_concurrent_retries_with_one_idempotency_key_make_one_demand(platform):
    from concurrent.futures import ThreadPoolExecutor

    h = {**auth(platform, "district"), "Idempotency-Key": "burst-0001"}

    def send(_):
        r = Client(platform.wsgi).post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
        return r.status_code, r.get_json()["code"]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(send, range(12)))
    assert {status for status, _ in results} == {201}
    assert len({code for _, code in results}) == 1


def test_odd_input_is_refused_not_a_500(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    body = (
        '{"enterprise": {"credit_code": "91630102MA7522T5X6"}, "category": "technology", '
        '"title": "\\ud800", "description": "d", "source": "online"}'
    )
    r = c.post(
        "/intake/api/v1/demands", data=body, headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "surrogate" in r.get_json()["error"]["fields"]["json"][0]
    for q in ("accepted_from=0001-01-01T00:00:00%2B01:00", "closed_to=9999-12-31T23:59:59Z"):
        assert c.get(f"/intake/api/v1/demands?{q}", headers=h).status_code == 422
    forged = "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ"  # ["2026-01-01T00:00:00", "x"]: naive
    assert c.get(f"/intake/api/v1/demands?cursor={forged}", headers=h).status_code == 422
    r = c.post("/intake/open311/v2/requests.json", data={"api_key": "k\x00"})
    assert r.status_code == 400 and r.get_json()[0]["code"] == 400
    r = c.get("/intake/open311/v2/requests.json?end_date=0001-01-01T00:00:00Z")
    assert r.status_code == 400


def test_provisional_deadlines_are_recomputed_and_flagged(platform):
    from sqlalchemy import update

    from services.intake.loop import recompute_provisional
    from services.intake.models import demands

    c = Client(platform.wsgi)
    h = auth(platform, "district")
    admin = auth(platform, "admin")
    body = {"simple": 0, "general": 5, "complex": 40, "closures": []}
    assert c.put("/intake/api/v1/time-limits/630102", json=body, headers=admin).status_code == 200
    d = post(c, h, complexity="complex")  # 40 working days from now runs past 2026
    assert d["deadline_provisional"] is True and "暂定" in d["service_notice"]
    intake = platform.services["intake"]
    right = d["expected_datetime"]
    with intake.db.write_session() as s:  # as if computed on older calendar data
        s.execute(
            update(demands)
            .where(demands.c.code == d["code"])
            .values(expected_at=datetime(2027, 3, 1, 10, tzinfo=UTC))
        )
        s.commit()
    assert recompute_provisional(intake.uow()) == 1
    again = c.get(f"/intake/api/v1/demands/{d['code']}", headers=h).get_json()
    assert again["expected_datetime"] == right and again["deadline_provisional"] is True
    assert recompute_provisional(intake.uow()) == 0  # idempotent
    feed = c.get(f"/intake/api/v1/demands/{d['code']}/updates", headers=h).get_json()["items"]
    assert feed[-1]["actor"] == "system" and "recomputed" in feed[-1]["note"]


def test_an_unanswered_demand_is_escalated_and_the_daily_board_shows_it(platform):
    """The first-response limit travels with demand.accepted to the owner assignment; the
    dispatch sweep escalates an owner that has not responded; intake shows the escalation
    and the daily board (JSON and XLSX) lists it; a day is a period of the reports."""
    import io

    from openpyxl import load_workbook
    from sqlalchemy import select, update

    from services.dispatch import sweep
    from services.dispatch.models import assignments

    c = Client(platform.wsgi)
    h = auth(platform, "district")
    r = c.put(
        "/intake/api/v1/time-limits/630102",
        json={"simple": 0, "general": 5, "complex": 20, "response_hours": 1},
        headers=auth(platform, "admin"),
    )
    assert r.status_code == 200 and r.get_json()["response_hours"] == 1
    bad = c.put(
        "/intake/api/v1/time-limits/630102",
        json={"simple": 0, "general": 5, "complex": 20, "response_hours": 0},
        headers=auth(platform, "admin"),
    )
    assert bad.status_code == 422 and "response_hours" in bad.get_json()["error"]["fields"]["json"]
    silent, answered = post(c, h), post(c, h)
    assert silent["respond_by"] and silent["responded_at"] is None
    owner = (assignments.c.kind == "owner") & assignments.c.demand_code.in_(
        (silent["code"], answered["code"])
    )
    dispatch = platform.services["dispatch"]

    def owned():
        with dispatch.db.session() as s:
            return len(s.execute(select(assignments.c.respond_by).where(owner)).all()) == 2

    wait_for(owned)
    assert (
        c.patch(
            f"/intake/api/v1/demands/{answered['code']}/screening",
            json={"complexity": "general"},
            headers=h,
        ).status_code
        == 200
    )
    wait_for(
        lambda: c.get(f"/intake/api/v1/demands/{answered['code']}", headers=h).get_json()[
            "responded_at"
        ]
    )
    assert platform.quiesce()
    with dispatch.uow() as uow:  # the limit has passed for both
        uow.session.execute(update(assignments).where(owner).values(respond_by=datetime.now(UTC)))
        uow.commit()
    counts = sweep.sweep_deadlines(dispatch.uow())
    assert counts["unanswered"] == 1  # the screened one had responded
    shown = wait_for(
        lambda: c.get(f"/intake/api/v1/demands/{silent['code']}", headers=h).get_json()[
            "escalated_at"
        ]
    )
    assert shown
    board = c.get("/intake/api/v1/board/630102", headers=h)
    assert board.status_code == 200, board.get_data(as_text=True)
    body = board.get_json()
    escalated = {i["code"] for i in body["sections"]["escalated"]}
    waiting = {i["code"] for i in body["sections"]["awaiting_response"]}
    assert silent["code"] in escalated and silent["code"] in waiting
    assert answered["code"] not in escalated | waiting
    assert body["counts"]["new"] >= 2
    book = c.get("/intake/api/v1/board/630102?format=xlsx", headers=h)
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.data), read_only=True).sheetnames
    assert sheets == ["总览", "新受理", "今日到期", "已超期", "已督办", "待响应"]
    assert c.get("/intake/api/v1/board/630102?date=2026-13-01", headers=h).status_code == 422
    assert c.get("/intake/api/v1/board/630200", headers=h).status_code == 404
    assert c.get("/intake/api/v1/board/630102", headers=auth(platform, "agency")).status_code == 403
    feed = c.get(f"/intake/api/v1/demands/{silent['code']}/updates", headers=h).get_json()
    assert "escalation" in [u["kind"] for u in feed["items"]]
    today = datetime.now(UTC).astimezone(CHINA).date().isoformat()
    report = c.get(
        f"/archive/api/v1/reports/progress?jurisdiction=630102&period={today}", headers=h
    )
    assert report.status_code == 200 and report.get_json()["title"].startswith("日调度")

    # and of scoring: today's KPIs count the two demands accepted today
    def todays():
        r = c.get(f"/scoring/api/v1/kpis?jurisdiction=630102&period={today}", headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json() if r.get_json()["demands"]["accepted"] >= 2 else None

    assert wait_for(todays)["period"] == today
    year, week, _ = date.fromisoformat(today).isocalendar()
    this_week = f"{year}-W{week:02d}"
    r = c.get(f"/scoring/api/v1/kpis?jurisdiction=630102&period={this_week}", headers=h)
    assert r.status_code == 200 and r.get_json()["demands"]["accepted"] >= 2


def test_a_survey_sheet_yields_demands_once_each_through_the_loop(platform):
    """科技体检: the survey sheet's demands enter the loop (owners assigned by dispatch,
    archived), each received when the sheet says; a bad row is reported by number; the
    same sheet again accepts nothing twice; an agency may not import."""
    import io
    from datetime import timedelta

    c = Client(platform.wsgi)
    h = auth(platform, "staff")
    ent = DEMO_DEMAND["enterprise"]["credit_code"]
    received = (datetime.now(UTC).astimezone(CHINA) - timedelta(days=2)).date()
    sheet = (
        "统一社会信用代码,企业名称,需求类别,需求名称,需求内容,接收时间,同意共享\n"
        f"{ent},,技术需求,烧结能耗,降低烧结能耗,{received},是\n"
        f"{ent},,知识产权,专利布局,申请发明专利,{received},否\n"
        f"{ent},,未知类别,坏行,,{received},\n"
    ).encode()

    def upload(who):
        return c.post(
            "/intake/api/v1/demands/import",
            headers=who,
            data={"file": (io.BytesIO(sheet), "体检.csv")},
            content_type="multipart/form-data",
        )

    r = upload(h)
    assert r.status_code == 200, r.get_data(as_text=True)
    report = r.get_json()
    assert (report["rows"], report["accepted"], report["unchanged"]) == (3, 2, 0)
    [bad] = report["rejected"]
    assert bad["row"] == 4 and {"category", "description"} <= set(bad["errors"])
    codes = [d["code"] for d in report["demands"]]
    for code in codes:
        d = wait_for(
            lambda code=code: (
                c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()["owner"]
                and c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()
            )
        )
        assert d["source"] == "field_visit"
        assert datetime.fromisoformat(d["received_at"]).astimezone(CHINA).date() == received
    assert wait_for(lambda: trace(c, h, codes[0]))
    again = upload(h).get_json()
    assert (again["accepted"], again["unchanged"]) == (0, 2)
    assert [d["code"] for d in again["demands"]] == codes
    assert upload(auth(platform, "agency")).status_code == 403
    empty = c.post(
        "/intake/api/v1/demands/import",
        headers=h,
        data={"file": (io.BytesIO(b"name\nx\n"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422 and "credit_code" in empty.get_json()["error"]["message"]
