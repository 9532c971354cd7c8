"""The enterprise registry (创新主体信息库) over HTTP, embedded shape."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from werkzeug.test import Client

from tests.e2e.support import auth

pytestmark = pytest.mark.e2e
BIG = {
    "credit_code": "91630104710405288K",
    "name": "青海盐湖锂业科技有限公司",
    "revenue": 620_000_000,
    "has_rd_activity": False,
    "has_rd_institution": False,
    "growth_tier": "hitech_candidate",
    "technology_field": "新材料",
    "jurisdiction": "630104",
}


def valid(code17):
    from shared.creditcodes import credit_check_char

    return code17 + credit_check_char(code17)


def test_register_read_patch_and_the_sx_flags(platform):
    c = Client(platform.wsgi)
    staff = auth(platform, "staff")  # 西宁市
    code = valid("91630104MA7LT0001")
    r = c.post("/intake/api/v1/enterprises", json={**BIG, "credit_code": code}, headers=staff)
    assert r.status_code == 201, r.get_data(as_text=True)
    e = r.get_json()
    assert e["needs_named_person"] and e["needs_one_plan"]
    dup = c.post("/intake/api/v1/enterprises", json={**BIG, "credit_code": code}, headers=staff)
    assert dup.status_code == 409
    r = c.patch(f"/intake/api/v1/enterprises/{code}", json={"has_rd_activity": True}, headers=staff)
    assert r.status_code == 200
    e = r.get_json()
    assert (
        not e["needs_named_person"]
        and e["needs_one_plan"]
        and e["growth_tier"] == ("hitech_candidate")
    )
    assert (
        c.patch(
            f"/intake/api/v1/enterprises/{code}", json={"jurisdiction": "630102"}, headers=staff
        ).status_code
        == 422
    )  # identity does not change
    bad = {**BIG, "credit_code": "91630104710405288X", "revenue": -1, "growth_tier": "giant"}
    r = c.post("/intake/api/v1/enterprises", json=bad, headers=staff)
    fields = r.get_json()["error"]["fields"]["json"]
    assert r.status_code == 422 and {"credit_code", "revenue", "growth_tier"} <= set(fields)
    district = auth(platform, "district")  # 城东区 cannot see 城西区
    assert c.get(f"/intake/api/v1/enterprises/{code}", headers=district).status_code == 403
    by_code = {
        "enterprise": {"credit_code": code},
        "category": "technology",
        "title": "t",
        "description": "d",
        "source": "online",
    }
    r = c.post("/intake/api/v1/demands", headers=district, json=by_code)
    assert r.status_code == 403  # posting for an enterprise elsewhere
    r = c.post(
        "/intake/api/v1/demands",
        headers=staff,
        json={**by_code, "attachments": ["https://files.example/a.pdf"]},
    )
    assert r.status_code == 201 and r.get_json()["enterprise"]["name"] == BIG["name"]
    assert r.get_json()["attachments"] == ["https://files.example/a.pdf"]
    r = c.post(
        "/intake/api/v1/demands",
        headers=staff,
        json={
            "enterprise": {"credit_code": valid("91630104MA7LT0009")},
            "category": "technology",
            "title": "t",
            "description": "d",
            "source": "online",
        },
    )
    assert r.status_code == 422 and "name" in r.get_json()["error"]["fields"]["json"]["enterprise"]
    assert (
        c.post(
            "/intake/api/v1/enterprises",
            json={**BIG, "credit_code": valid("91630104MA7LT0002")},
            headers=district,
        ).status_code
        == 403
    )


def test_list_filters_and_cursor(platform):
    c = Client(platform.wsgi)
    staff = auth(platform, "staff")
    seen, cursor = [], None
    while True:
        url = "/intake/api/v1/enterprises?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = c.get(url, headers=staff).get_json()
        seen += [e["credit_code"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 8 and seen == sorted(seen)  # the demo enterprises, each once
    r = c.get("/intake/api/v1/enterprises?jurisdiction=630104", headers=staff).get_json()
    assert [e["jurisdiction"] for e in r["items"]] == ["630104"]
    assert c.get("/intake/api/v1/enterprises?cursor=garbage", headers=staff).status_code == 422
    assert c.get("/intake/api/v1/enterprises?jurisdiction=620100", headers=staff).status_code == 403
    assert c.get("/intake/api/v1/enterprises?name=锂业", headers=staff).get_json()["items"]


def csv_sheet(rows):
    head = ",".join(
        [
            "统一社会信用代码",
            "企业名称",
            "所属区划代码",
            "营业收入（万元）",
            "是否有研发活动",
            "是否有研发机构",
            "企业梯次",
        ]
    )
    return ("\n".join([head, *rows]) + "\n").encode("utf-8")


def test_import_reports_every_bad_row_and_is_idempotent(platform):
    c = Client(platform.wsgi)
    staff = auth(platform, "staff")
    a, b = valid("91630102MA7MP0001"), valid("91630105MA7MP0002")
    wrong = valid("91630102MA7MP0004")[:-1] + "0"
    sheet = csv_sheet(
        [
            f"{a},城东示范企业,630102,12000,否,是,科技型中小企业",
            f"{wrong},错码企业,630102,10,是,是,",
            f"{b},城北示范企业,630105,abc,是,否,高新技术企业",
            f"{valid('91620100MA7MP0003')},外省企业,620100,1,是,是,",
            f"{a},重复行,630102,1,是,是,",
        ]
    )

    def upload(data, name="survey.csv"):
        return c.post(
            "/intake/api/v1/enterprises/import",
            headers=staff,
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    r = upload(sheet)
    assert r.status_code == 200, r.get_data(as_text=True)
    rep = r.get_json()
    assert (rep["rows"], rep["registered"], rep["updated"], rep["unchanged"]) == (5, 1, 0, 0)
    assert [x["row"] for x in rep["rejected"]] == [3, 4, 5, 6]
    assert "check character" in rep["rejected"][0]["errors"]["credit_code"][0]
    assert "revenue" in rep["rejected"][1]["errors"]
    assert "jurisdiction" in rep["rejected"][2]["errors"]
    assert "repeats row 2" in rep["rejected"][3]["errors"]["credit_code"][0]
    e = c.get(f"/intake/api/v1/enterprises/{a}", headers=staff).get_json()
    assert (
        e["revenue"] == 120_000_000 and e["needs_named_person"] and e["growth_tier"] == ("tech_sme")
    )
    again = upload(sheet).get_json()
    assert (again["registered"], again["updated"], again["unchanged"]) == (0, 0, 1)

    book = Workbook()
    ws = book.active
    ws.append(["credit_code", "name", "jurisdiction", "revenue", "is_key"])
    ws.append([a, "城东示范企业", "630102", 120_000_000, "是"])  # now a key enterprise
    buf = io.BytesIO()
    book.save(buf)
    rep = upload(buf.getvalue(), "survey.xlsx").get_json()
    assert (rep["updated"], rep["rejected"]) == (1, [])
    assert c.get(f"/intake/api/v1/enterprises/{a}", headers=staff).get_json()["is_key"] is True
    assert upload(b"not a workbook", "survey.xlsx").status_code == 422
    assert upload(b"a,b\n1,2\n").status_code == 422  # no credit-code column
    assert upload(sheet, "survey.txt").status_code == 422
