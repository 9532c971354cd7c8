"""服务联盟 and 企业点单 over the real services (embedded): an agency clerk's orders and
their actions, the station's alliance (members, pauses, decisions, 调单, menu, rules) and
the enterprise's order page with the member agencies that offer each item."""

from __future__ import annotations

import re
from datetime import timedelta

from werkzeug.test import Client

from shared.timezone import china_today
from tests.console.conftest import csrf_of
from tests.e2e.support import auth
from tests.e2e.test_dispatch import make_overdue
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

API = "/dispatch/api/v1"
IP_DEMAND = {
    **DEMO_DEMAND,
    "category": "ip",
    "service_item": "ip_filing",
    "title": "新型烧结炉专利申请",
    "description": "申请发明专利一项 <b>勿转义</b>",
    "consent_to_share": True,
}


def agency_order(platform, **extra):
    """A demand filed with the demo district key, and the agency order dispatch makes."""
    c, district = Client(platform.wsgi), auth(platform, "district")
    r = c.post("/intake/api/v1/demands", json={**IP_DEMAND, **extra}, headers=district)
    assert r.status_code == 201, r.get_data(as_text=True)
    code = r.get_json()["code"]

    def found():
        items = c.get(f"{API}/assignments?demand_code={code}&kind=agency", headers=district)
        live = [i for i in items.get_json()["items"] if i["status"] != "reassigned"]
        return live[0] if live else None

    return code, wait_for(found)


def post(b, path, data, page):
    """Submit a prefixed form of ``page`` (its own CSRF field) to ``path``."""
    token = csrf_of(b.get(page).get_data(as_text=True))
    prefix = data.pop("_prefix")
    return b.c.post(path, data={**data, f"{prefix}-csrf_token": token})


def test_an_agency_clerk_acknowledges_reports_and_completes_an_order(platform, person):
    code, order = agency_order(platform, ordered_agency="ag-pat-1")
    assert order["assignee_id"] == "ag-pat-1"
    clerk = person("clerk.pat")
    home = clerk.get("/")
    assert home.headers["Location"].endswith("/alliance/orders")
    listing = clerk.get("/alliance/orders").get_data(as_text=True)
    assert code in listing and "已派单" in listing
    page = f"/alliance/orders/{order['id']}"
    html = clerk.get(page).get_data(as_text=True)
    assert "新型烧结炉专利申请" in html  # consent given: the content is shown
    assert "&lt;b&gt;勿转义&lt;/b&gt;" in html and "<b>勿转义</b>" not in html
    assert "企业点单" in html  # the decision's outcome

    r = post(
        clerk, f"{page}/acknowledge", {"_prefix": "acknowledge", "acknowledge-note": "收到"}, page
    )
    assert r.status_code == 302
    html = clerk.get(page).get_data(as_text=True)
    assert "已确认接单" in html and re.search(r'id="order-status">已确认<', html)

    # acknowledging twice: the service's message shows on the page
    r = post(clerk, f"{page}/acknowledge", {"_prefix": "acknowledge"}, page)
    assert r.status_code == 422 and "allowed" in r.get_data(as_text=True)

    r = post(
        clerk,
        f"{page}/progress",
        {"_prefix": "progress", "progress-stage": "started", "progress-note": "已开始撰写"},
        page,
    )
    assert r.status_code == 302
    assert re.search(r'id="order-status">服务中<', clerk.get(page).get_data(as_text=True))

    future = (china_today() + timedelta(days=2)).isoformat()
    r = post(
        clerk,
        f"{page}/complete",
        {
            "_prefix": "complete",
            "complete-goal_reached": "yes",
            "complete-funds_received_on": future,
        },
        page,
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="complete-funds_received_on-errors"' in html and "in the future" in html

    funds = china_today() - timedelta(days=1)
    r = post(
        clerk,
        f"{page}/complete",
        {
            "_prefix": "complete",
            "complete-goal_reached": "yes",
            "complete-funds_received_on": funds.isoformat(),
            "complete-note": "已提交申请",
        },
        page,
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    html = clerk.get(page).get_data(as_text=True)
    assert re.search(r'id="order-status">已完成<', html)
    assert (funds + timedelta(days=7)).isoformat() in html  # settlement due, from the service
    assert "拒单理由" not in html  # a finished order offers no more actions
    done = clerk.get("/alliance/orders?status=completed").get_data(as_text=True)
    assert "已完成" in done and "知识产权申请" in done  # the item by its catalogue name


def test_a_refusal_needs_its_reason_and_is_recorded(platform, person):
    _, order = agency_order(platform, ordered_agency="ag-pat-1")
    clerk = person("clerk.pat")
    page = f"/alliance/orders/{order['id']}"
    r = post(clerk, f"{page}/refuse", {"_prefix": "refuse", "refuse-reason": ""}, page)
    assert r.status_code == 422 and 'id="refuse-reason-errors"' in r.get_data(as_text=True)
    r = post(clerk, f"{page}/refuse", {"_prefix": "refuse", "refuse-reason": "本月满负荷"}, page)
    assert r.status_code == 302
    html = clerk.get(page).get_data(as_text=True)
    assert re.search(r'id="order-status">已拒单<', html) and "本月满负荷" in html


def test_another_agencys_order_and_the_alliance_pages_are_closed_to_a_clerk(platform, person):
    _, order = agency_order(platform, ordered_agency="ag-pat-2")
    clerk = person("clerk.pat")
    assert clerk.get(f"/alliance/orders/{order['id']}").status_code == 404
    assert order["demand_code"] not in clerk.get("/alliance/orders").get_data(as_text=True)
    assert clerk.get("/alliance/").status_code == 403
    assert person("qiye.gaoyuan").get("/alliance/orders").status_code == 403


def test_the_district_station_reads_its_citys_menu_rules_and_public_members(platform, person):
    station = person("station.cd")
    r = station.get("/")
    assert r.headers["Location"].endswith("/alliance/")
    html = station.get("/alliance/").get_data(as_text=True)
    assert "630100" in html  # the alliance that serves 630102-S0001
    assert "知识产权申请" in html and "3000" in html  # the menu
    assert "年度调单退出次数" in html  # the rules in force
    assert "青海知桥专利代理事务所" in html  # members: the public list
    assert "会员明细不在您的管辖范围内" in html
    # its unit is below the city: the service refuses to pause the city's members
    r = post(
        station,
        "/alliance/agencies/ag-pat-1/pause",
        {"_prefix": "pause-ag-pat-1", "pause-ag-pat-1-reason": "x"},
        "/alliance/",
    )
    assert r.status_code == 422 and "No agency ag-pat-1" in r.get_data(as_text=True)


def test_a_leader_reads_members_and_decisions_but_is_offered_no_action(platform, person):
    code, _ = agency_order(platform)
    leader = person("leader.xn")
    html = wait_for(
        lambda: (lambda t: t if code in t else None)(
            leader.get("/alliance/").get_data(as_text=True)
        )
    )
    assert "西宁智权知识产权服务有限公司" in html and "排位依据" in html
    assert "按排位轮转" in html  # the decision and its explanation
    assert "暂停</button>" not in html and "调单</button>" not in html
    assert person("chen.jing").get("/alliance/").status_code == 200


def test_the_citys_station_pauses_resumes_and_reassigns(platform, person):
    """station.xn (the demo's operator of 西宁's alliance, bound to 630100)."""
    c, admin = Client(platform.wsgi), auth(platform, "admin")
    station = wait_for(lambda: _signed_in(person, "station.xn"))
    html = station.get("/alliance/").get_data(as_text=True)
    assert 'name="pause-ag-pat-2-reason"' in html

    r = post(
        station, "/alliance/agencies/ag-pat-2/pause", {"_prefix": "pause-ag-pat-2"}, "/alliance/"
    )
    assert r.status_code == 422 and 'id="pause-ag-pat-2-reason-errors"' in r.get_data(as_text=True)
    until = (china_today() + timedelta(days=5)).isoformat()
    r = post(
        station,
        "/alliance/agencies/ag-pat-2/pause",
        {
            "_prefix": "pause-ag-pat-2",
            "pause-ag-pat-2-until": until,
            "pause-ag-pat-2-reason": "整改",
        },
        "/alliance/",
    )
    assert r.status_code == 302
    html = station.get("/alliance/").get_data(as_text=True)
    assert "暂停派单" in html and until in html and 'name="resume-ag-pat-2-reason"' in html
    r = post(
        station, "/alliance/agencies/ag-pat-2/resume", {"_prefix": "resume-ag-pat-2"}, "/alliance/"
    )
    assert r.status_code == 302
    assert 'name="pause-ag-pat-2-reason"' in station.get("/alliance/").get_data(as_text=True)

    _, order = agency_order(platform, ordered_agency="ag-pat-1")
    prefix = f"reassign-{order['id']}"
    r = post(
        station, f"/alliance/assignments/{order['id']}/reassign", {"_prefix": prefix}, "/alliance/"
    )
    assert r.status_code == 422
    assert "not overdue" in r.get_data(as_text=True)  # the service's reason, on the page
    r = c.post(
        f"{API}/assignments/{order['id']}/complaints",
        json={"source": "enterprise", "text": "进度滞后"},
        headers=admin,
    )
    assert r.status_code == 201
    make_overdue(platform, order["id"])
    r = post(
        station,
        f"/alliance/assignments/{order['id']}/reassign",
        {"_prefix": prefix, f"{prefix}-note": "调单"},
        "/alliance/",
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    assert "已调单" in station.get(r.headers["Location"]).get_data(as_text=True)


def _signed_in(person, login):
    try:
        return person(login)
    except AssertionError:
        return None


def test_an_enterprise_orders_a_service_naming_an_agency(platform, person):
    ent = person("qiye.gaoyuan")
    html = ent.get("/hall/order").get_data(as_text=True)
    assert "知识产权申请" in html and "青海知桥专利代理事务所" in html
    assert "/hall/demands/new?item=ip_filing&amp;agency=ag-pat-1" in html
    assert "由政府部门直接办理" in html  # expert consulting: no agency
    page = "/hall/demands/new?item=ip_filing&agency=ag-pat-1"
    form = ent.get(page).get_data(as_text=True)
    assert "ag-pat-1" in form and 'selected value="ip_filing"' in form
    token = csrf_of(form)
    r = ent.c.post(
        page,
        data={
            "csrf_token": token,
            "enterprise": "91630102MA7522T5X6",
            "category": "ip",
            "service_item": "ip_filing",
            "title": "专利点单",
            "description": "请知桥所代理专利申请",
            "consent_to_share": "y",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    code = r.headers["Location"].rsplit("/", 1)[1]
    c, district = Client(platform.wsgi), auth(platform, "district")
    demand = c.get(f"/intake/api/v1/demands/{code}", headers=district).get_json()
    assert demand["ordered_agency"] == "ag-pat-1" and demand["source"] == "order"
    decision = wait_for(
        lambda: c.get(f"{API}/decisions?demand_code={code}", headers=district).get_json()["items"]
    )[0]
    assert decision["outcome"] == "ordered" and decision["agency_id"] == "ag-pat-1"
    assert person("chen.jing").get("/hall/order").status_code == 403
