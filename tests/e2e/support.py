"""What the end-to-end tests do over HTTP again and again: sign a request, read a
trace, wait for visits to know the demo map, log a visit, drive a demand round the loop."""

from __future__ import annotations

from shared.timezone import china_today
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

ENT = DEMO_DEMAND["enterprise"]["credit_code"]  # 630102
VISITS = "/visits/api/v1"


def auth(p, role):
    return {"Authorization": f"Bearer {p.creds[role]['key']}"}


def trace(client, headers, code):
    r = client.get(f"/archive/api/v1/trace/{code}", headers=headers)
    return r.get_json()["events"] if r.status_code == 200 else []


def ready(c, h):
    """Visits knows the demo map and enterprises once their events arrived."""
    for unit in ("staff-005", "cd-kjj"):
        wait_for(
            lambda u=unit: (
                c.get(f"{VISITS}/ledger?unit={u}&period=2026-11", headers=h).status_code == 200
            )
        )


def visit_body(**extra):
    return {
        "staff_id": "staff-005",
        "enterprises": [ENT],
        "visited_on": china_today().isoformat(),
        "duration_minutes": 90,
        "kind": "demand_survey",
        "participants": ["陈静", "企业技术总监"],
        "findings": "烧结能耗偏高",
        "outcomes": "形成需求1项",
        **extra,
    }


def drive(c, h):
    """A technology demand through the whole loop, two visits."""
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
    code = r.get_json()["code"]
    wait_for(lambda: c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()["owner"])
    c.patch(
        f"/intake/api/v1/demands/{code}/screening",
        json={"complexity": "general", "urgency": "high", "feasibility": "high"},
        headers=h,
    )
    for to in ("in_progress", "feedback"):
        assert (
            c.post(
                f"/intake/api/v1/demands/{code}/transitions", json={"to": to, "note": to}, headers=h
            ).status_code
            == 200
        )
    r = c.post(
        f"/intake/api/v1/demands/{code}/transitions",
        json={"to": "closed", "note": "解决", "resolution": "solved"},
        headers=h,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (
        c.post(
            f"/intake/api/v1/demands/{code}/revisit",
            json={"rating": 5, "comment": "满意"},
            headers=h,
        ).status_code
        == 200
    )
    for _ in range(2):
        assert c.post("/visits/api/v1/visits", json=visit_body(), headers=h).status_code == 201
    return code
