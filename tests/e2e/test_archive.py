"""The archive over HTTP (embedded shape): a demand's life across the services, search,
streaming export with redaction, verify, and replay rebuilding scoring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from shared.rebuild import wipe
from shared.timezone import china_today
from tests.conftest import wait_for
from tests.e2e.test_embedded import auth, platform  # noqa: F401 (fixture)
from tests.e2e.test_scoring import drive
from tests.e2e.test_visits import ENT, ready, visit_body

pytestmark = pytest.mark.e2e
API = "/archive/api/v1"


def test_trace_search_export_verify_and_replay(platform):  # noqa: F811
    c = Client(platform.wsgi)
    h, admin = auth(platform, "district"), auth(platform, "admin")
    ready(c, h)
    drive(c, h)  # a technology demand through the loop, two visits
    raised = {
        "credit_code": ENT,
        "category": "ip",
        "service_item": "ip_filing",
        "title": "专利布局",
        "description": "机密：核心工艺",
        "consent_to_share": False,
    }
    v = c.post("/visits/api/v1/visits", json=visit_body(demands_raised=[raised]), headers=h)
    assert v.status_code == 201
    linked = wait_for(
        lambda: c.get(f"/visits/api/v1/visits/{v.get_json()['visit_id']}", headers=h).get_json()[
            "demands"
        ]
    )
    raised_code = linked[0]["demand_code"]
    # the raised demand's life: intake, dispatch (owner and agency), visits
    producers = wait_for(
        lambda: (
            (
                p := {
                    e["producer"]
                    for e in c.get(f"{API}/trace/{raised_code}", headers=h)
                    .get_json()
                    .get("events", [])
                }
            )
            >= {"intake", "dispatch", "visits"}
            and p
        )
    )
    assert producers >= {"intake", "dispatch", "visits"}
    assert platform.quiesce()

    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    r = c.get(f"{API}/events", query_string={**window, "enterprise": ENT, "limit": 5}, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    page = r.get_json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    nxt = c.get(
        f"{API}/events",
        query_string={**window, "enterprise": ENT, "limit": 5, "cursor": page["next_cursor"]},
        headers=h,
    ).get_json()
    assert nxt["items"][0]["archive"]["seq"] < page["items"][-1]["archive"]["seq"]
    typed = c.get(
        f"{API}/events", query_string={**window, "type": "visit.logged"}, headers=h
    ).get_json()
    assert typed["items"] and {e["event_type"] for e in typed["items"]} == {"visit.logged"}
    assert c.get(f"{API}/events", headers=h).status_code == 422  # no range
    wide = {"from": "2020-01-01T00:00:00+00:00", "to": now.isoformat()}
    r = c.get(f"{API}/events", query_string=wide, headers=h)
    assert r.status_code == 422 and "export" in r.get_json()["error"]["message"]
    assert (
        c.get(
            f"{API}/events", query_string={**window, "jurisdiction": "630104"}, headers=h
        ).status_code
        == 403
    )

    # streaming export: content and contacts out without consent
    lines = (
        c.get(f"{API}/export", query_string={"type": "demand.accepted"}, headers=h)
        .get_data(as_text=True)
        .splitlines()
    )
    exported = [json.loads(line) for line in lines]
    by_code = {e["payload"]["demand_code"]: e for e in exported}
    assert "description" not in by_code[raised_code]["payload"]
    assert "description" in by_code[raised_code]["payload"]["redacted"]
    csv_text = c.get(
        f"{API}/export", query_string={"format": "csv", "type": "demand.accepted"}, headers=h
    ).get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("seq,event_id,event_type") and "机密" not in csv_text

    result = c.get(f"{API}/verify", headers=admin).get_json()
    assert result["ok"] and result["checked"] >= len(exported)
    assert c.get(f"{API}/verify", headers=auth(platform, "staff")).status_code == 403

    # replay: a scoring emptied of everything comes back to identical scorecards
    month = china_today().strftime("%Y-%m")
    ranking = f"/scoring/api/v1/rankings?jurisdiction=630102&period={month}"
    before = c.get(ranking, headers=h).get_json()
    assert before["items"][0]["total"] > 0
    _, subs = wipe(platform.settings, "scoring")
    emptied = c.get(ranking, headers=h).get_json()
    assert emptied["items"] == [] or emptied["items"][0]["total"] == 0
    assert (
        c.post(f"{API}/replay", json={"queue": "scoring.nowhere"}, headers=admin).status_code == 422
    )
    assert c.post(f"{API}/replay", json={"queue": subs[0].queue}, headers=h).status_code == 403
    sent = 0
    for sub in subs:
        r = c.post(f"{API}/replay", json={"queue": sub.queue}, headers=admin)
        assert r.status_code == 200, r.get_data(as_text=True)
        sent += r.get_json()["sent"]
    assert sent > 0
    assert platform.quiesce()
    assert c.get(ranking, headers=h).get_json() == before
    # replaying again changes nothing (the consumers' inbox)
    for sub in subs:
        c.post(f"{API}/replay", json={"queue": sub.queue}, headers=admin)
    assert platform.quiesce()
    assert c.get(ranking, headers=h).get_json() == before
    # reports and the dossier, from the archive
    month = china_today().strftime("%Y-%m")
    q = {"jurisdiction": "630102", "period": month}
    analysis = c.get(f"{API}/reports/demand-analysis", query_string=q, headers=h).get_json()
    assert analysis["demands"] >= 2 and analysis["by_category"]["technology"] >= 1
    assert analysis["by_source"]["field_visit"] >= 1 and analysis["closure_rate"] is not None
    assert analysis["satisfaction"] == 5.0
    dossier = c.get(f"{API}/reports/dossier", query_string=q, headers=h).get_json()
    assert set(dossier) >= {"contact_list", "demand_list", "service_ledger", "assessment_records"}
    assert dossier["service_ledger"] and dossier["demand_list"]
    progress = c.get(f"{API}/reports/progress", query_string=q, headers=h).get_json()
    assert progress["title"] == "月总结" and progress["visits"] >= 3
    x = c.get(f"{API}/reports/dossier", query_string={**q, "format": "xlsx"}, headers=h)
    assert x.status_code == 200 and x.data[:2] == b"PK"
    page = c.get(f"{API}/reports/demand-analysis", query_string={**q, "format": "html"}, headers=h)
    assert page.mimetype == "text/html" and "需求分析报告" in page.get_data(as_text=True)
    assert "<script" not in page.get_data(as_text=True)
    assert c.get(f"{API}/reports/other", query_string=q, headers=h).status_code == 404
    assert (
        c.get(
            f"{API}/reports/progress", query_string={**q, "period": "2026-W99"}, headers=h
        ).status_code
        == 422
    )
    assert (
        c.get(
            f"{API}/reports/progress", query_string={**q, "jurisdiction": "630104"}, headers=h
        ).status_code
        == 403
    )
    text = c.get("/archive/metrics").get_data(as_text=True)
    assert "onestop_archive_last_verify_ok 1.0" in text and "onestop_archive_chain_length" in text
