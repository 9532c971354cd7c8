"""The archive over HTTP (embedded shape): a demand's life across the services, search,
streaming export with redaction, verify, and replay rebuilding scoring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from onestop.rebuild import wipe
from shared.timezone import china_today
from tests.e2e.support import ENT, auth, drive, ready, visit_body
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/archive/api/v1"


def test_trace_search_export_verify_and_replay(platform):
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
    full = c.get(f"{API}/verify", query_string={"full": "true"}, headers=admin).get_json()
    assert full["ok"] and full["full"] and full["walked"] == full["checked"] >= result["checked"]
    assert full["checkpoint"]["length"] == full["checked"]
    maybe = c.get(f"{API}/verify", query_string={"full": "maybe"}, headers=admin)
    assert maybe.status_code == 422

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


# --- scoping before streaming (issue 11) ----------------------------------------------------


def _archived(platform):
    """Every archived record's (seq, jurisdiction), read from the archive's own table."""
    from sqlalchemy import select

    from services.archive.models import archived_events as t

    with platform.services["archive"].db.session() as s:
        return s.execute(select(t.c.seq, t.c.jurisdiction).order_by(t.c.seq)).all()


def _with_demands(platform):
    """The demo seed archived, and a demand in 630102 and one in 630104 on top."""
    c = Client(platform.wsgi)
    admin = auth(platform, "admin")
    for credit, name, where in (
        ("91630102MA7522T5X6", "青海高原新材料科技有限公司", "630102"),
        ("91630104710405288K", "青海盐湖锂业科技有限公司", "630104"),
    ):
        r = c.post(
            "/intake/api/v1/demands",
            json={
                "enterprise": {"credit_code": credit, "name": name},
                "category": "technology",
                "title": "工艺改进",
                "description": "机密：核心工艺",
                "source": "online",
                "jurisdiction": where,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.get_data(as_text=True)
    assert platform.quiesce()
    return c


def _refused_before_streaming(r, status):
    """An error answered whole, in the platform's one format: no stream had started."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/json" and "Content-Disposition" not in r.headers
    body = r.get_data(as_text=True)
    assert not body.startswith("seq,event_id") and '"archive"' not in body
    error = json.loads(body)["error"]
    assert error["status"] == status and error["message"]
    return error


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_outside_your_subtree_is_refused_before_any_byte(platform, fmt):
    c = _with_demands(platform)
    assert {"630102", "630104"} <= {r.jurisdiction for r in _archived(platform)}
    h = auth(platform, "district")  # 630102
    for outside in ("630104", "630100", "630000", "620102"):
        r = c.get(f"{API}/export", query_string={"format": fmt, "jurisdiction": outside}, headers=h)
        error = _refused_before_streaming(r, 403)
        assert error["code"] == "forbidden" and outside in error["message"]
        assert error["fields"] == {"query": {"jurisdiction": ["outside your jurisdiction"]}}


@pytest.mark.parametrize(
    "query",
    [
        {"jurisdiction": "63010"},  # not a division code
        {"producer": "archive"},  # not a producer
        {"from": "yesterday"},  # not a time
        {"from": "2026-12-01T00:00:00"},  # no zone
        {"format": "xml"},
        {"jurisdction": "630102"},  # a typo is an error, not a different result
        {"from": "2026-12-02T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"},
    ],
)
def test_an_invalid_export_filter_is_a_422_before_any_byte(platform, query):
    c = Client(platform.wsgi)
    for fmt in ("jsonl", "csv"):
        r = c.get(
            f"{API}/export", query_string={"format": fmt, **query}, headers=auth(platform, "admin")
        )
        error = _refused_before_streaming(r, 422)
        assert error["code"] == "validation_failed" and error["fields"]


def test_export_streams_every_matching_row_in_keyset_batches(platform, monkeypatch):
    from services.archive import exports

    c = _with_demands(platform)
    monkeypatch.setattr(exports, "BATCH", 7)  # many batches, one of them short
    archived = _archived(platform)
    assert len(archived) > 3 * exports.BATCH and len(archived) % exports.BATCH
    everything = c.get(f"{API}/export", headers=auth(platform, "admin"))
    assert everything.status_code == 200 and everything.mimetype == "application/x-ndjson"
    assert everything.headers["Content-Disposition"] == 'attachment; filename="archive.jsonl"'
    seqs = [
        json.loads(line)["archive"]["seq"]
        for line in everything.get_data(as_text=True).splitlines()
    ]
    # all of the province's, oldest first, none twice (the platform-wide signing key, filed
    # under the whole country 100000, is no province's)
    province = [r.seq for r in archived if r.jurisdiction.startswith("63")]
    assert seqs == province and len(province) == len(archived) - 1
    # a district's export: exactly its subtree's rows, also as CSV (a header and a line each)
    mine = [r.seq for r in archived if r.jurisdiction.startswith("630102")]
    assert mine and len(mine) < len(archived)
    h = auth(platform, "district")
    lines = c.get(f"{API}/export", headers=h).get_data(as_text=True).splitlines()
    assert [json.loads(line)["archive"]["seq"] for line in lines] == mine
    csv_lines = c.get(f"{API}/export", query_string={"format": "csv"}, headers=h)
    rows = csv_lines.get_data(as_text=True).splitlines()
    assert rows[0].startswith("seq,event_id,event_type") and len(rows) == len(mine) + 1
    assert [int(row.split(",", 1)[0]) for row in rows[1:]] == mine
    assert "机密" not in csv_lines.get_data(as_text=True)
    # a filter that matches nothing is an empty stream, not an error
    none = c.get(f"{API}/export", query_string={"demand": "nothing-like-it"}, headers=h)
    assert none.status_code == 200 and none.get_data() == b""


def test_export_with_the_archive_database_down_is_an_error_not_a_cut_stream(
    platform,
    monkeypatch,
    tmp_path,
):
    from services.archive.models import metadata
    from shared.db import Database

    assert platform.quiesce()
    archive = platform.services["archive"]
    # a "database" that cannot be opened (a directory): every connection fails
    monkeypatch.setattr(archive, "db", Database(f"sqlite:///{tmp_path}", metadata))
    c = Client(platform.wsgi)
    for fmt in ("jsonl", "csv"):
        r = c.get(f"{API}/export", query_string={"format": fmt}, headers=auth(platform, "admin"))
        # 500 today; 503 with Retry-After once database errors map to 503 (shared/errors.py)
        assert r.status_code in (500, 503)
        _refused_before_streaming(r, r.status_code)


def test_verify_is_for_the_province_administrators_only(platform):
    c = Client(platform.wsgi)
    assert platform.quiesce()
    city_admin, district_admin = (
        c.post(
            "/directory/api/v1/keys",
            json={"name": f"{code} admin", "role": "admin", "jurisdiction": code},
            headers=auth(platform, "admin"),
        ).get_json()["key"]
        for code in ("630100", "630102")
    )
    for key in (city_admin, district_admin):  # the archive has the directory's announcement
        bearer = {"Authorization": f"Bearer {key}"}
        wait_for(lambda h=bearer: c.get(f"{API}/verify", headers=h).status_code != 401)
    for role in ("district", "staff", "agency"):  # the role: the permission matrix's refusal
        r = c.get(f"{API}/verify", headers=auth(platform, role))
        assert r.status_code == 403, role
        assert r.get_json()["error"]["message"] == (
            "This call (archive.verify) needs one of the roles: admin, sysadmin, auditor."
        )
    refused = {  # the scope: an administrator, but not a province's
        "city admin": {"Authorization": f"Bearer {city_admin}"},
        "district admin": {"Authorization": f"Bearer {district_admin}"},
    }
    for who, h in refused.items():
        r = c.get(f"{API}/verify", headers=h)
        assert r.status_code == 403, who
        error = r.get_json()["error"]
        assert error["code"] == "forbidden" and set(r.get_json()) == {"error"}, who
        assert "province" in error["message"] and "platform-wide" in error["message"], who
        assert "onestop_archive_last_verify_ok" in error["message"], who
    assert platform.quiesce()  # the refusals above are archived too (access.refused)
    r = c.get(f"{API}/verify", headers=auth(platform, "admin"))  # 630000
    assert r.status_code == 200, r.get_data(as_text=True)
    result = r.get_json()
    assert result["ok"] is True and result["first_mismatch"] is None
    assert result["checked"] == len(_archived(platform)) > 0
