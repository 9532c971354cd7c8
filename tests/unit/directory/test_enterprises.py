"""Enterprise users (services/directory/enterprises.py): an account opened by the
enterprise acts for it only once its office or its registered contact confirms."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from services.directory import enterprises
from services.directory.models import enterprise_bindings, persons
from services.directory.passwords import Hasher
from shared.creditcodes import credit_check_char
from shared.usecases import Conflict, Forbidden, Invalid, NotFound
from tests.fakes import actor

HASHER = Hasher.cheap()
PASSWORD = "Gaoyuan-Qiye-2026"


def code(body: str = "91630102MA7522T5X") -> str:
    return body + credit_check_char(body)


ENT, OTHER = code(), code("91630103MA7522T5X")


def registration(**more):
    return {
        "person_id": "gaoyuan.li",
        "name": "李高原",
        "unit": "630102",
        "password": PASSWORD,
        "credit_code": ENT,
        **more,
    }


def enterprise_user(person_id, codes=()):
    return actor(
        "enterprise",
        "630102",
        key_id=f"person:{person_id}",
        roles=("enterprise",),
        credit_codes=tuple(codes),
    )


def account(uow, person_id="gaoyuan.li"):
    with uow.read() as s:
        return s.execute(select(persons).where(persons.c.person_id == person_id)).one()


def test_a_registered_account_asks_and_acts_for_nothing_yet(uow):
    out = enterprises.register(uow, registration(), hasher=HASHER)
    assert out["person"]["roles"] == ["enterprise"] and out["person"]["credit_codes"] == []
    assert out["request"]["status"] == "requested" and out["request"]["credit_code"] == ENT
    assert uow.types() == ["person.created", "person.binding_changed"]
    created, asked = uow.committed
    assert created.payload["actor"] == "person:gaoyuan.li"
    assert asked.payload["status"] == "requested" and asked.jurisdiction == "630102"
    assert HASHER.verify(account(uow).password_hash, PASSWORD).ok


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credit_code": ENT[:17] + ("0" if ENT[17] != "0" else "1")}, "credit_code"),
        ({"password": "short"}, "password"),
        ({"unit": "639999"}, "unit"),
    ],
)
def test_bad_input_makes_no_account(uow, change, field):
    with pytest.raises(Invalid) as refused:
        enterprises.register(uow, registration(**change), hasher=HASHER)
    assert field in refused.value.fields["json"]
    with uow.read() as s:
        assert s.execute(select(persons)).first() is None
        assert s.execute(select(enterprise_bindings)).first() is None
    assert uow.committed == []


def test_a_taken_log_in_name_is_a_conflict_and_nothing_is_asked(uow):
    enterprises.register(uow, registration(), hasher=HASHER)
    with pytest.raises(Conflict):
        enterprises.register(uow, registration(credit_code=OTHER), hasher=HASHER)
    with uow.read() as s:
        assert len(s.execute(select(enterprise_bindings)).all()) == 1


def test_the_office_of_the_account_s_unit_confirms_and_the_account_acts_for_it(uow):
    asked = enterprises.register(uow, registration(), hasher=HASHER)["request"]
    uow.committed.clear()
    elsewhere = actor("staff", "630103")
    with pytest.raises(NotFound):
        enterprises.decide(uow, elsewhere, asked["request_id"], {"confirm": True})
    office = actor("staff", "630102", key_id="person:chen.jing", roles=("office_staff",))
    listed = enterprises.requests(uow, office, {})["items"]
    assert [r["request_id"] for r in listed] == [asked["request_id"]]
    assert enterprises.requests(uow, elsewhere, {})["items"] == []
    out = enterprises.decide(
        uow, office, asked["request_id"], {"confirm": True, "note": "核验执照"}
    )
    assert (out["status"], out["decided_as"], out["decided_by"]) == (
        "confirmed",
        "office",
        "person:chen.jing",
    )
    assert json.loads(account(uow).credit_codes) == [ENT]
    assert uow.types() == ["person.updated", "person.binding_changed"]
    assert uow.committed[0].payload["credit_codes"] == [ENT]
    with pytest.raises(Conflict, match="confirmed already"):
        enterprises.decide(uow, office, asked["request_id"], {"confirm": False})


def test_the_registered_contact_confirms_a_colleague_and_nobody_their_own(uow):
    asked = enterprises.register(uow, registration(), hasher=HASHER)["request"]
    me = enterprise_user("gaoyuan.li")
    with pytest.raises(NotFound):  # not yet bound: nobody's contact
        enterprises.decide(uow, me, asked["request_id"], {"confirm": True})
    contact = enterprise_user("gaoyuan.boss", [ENT])
    assert [r["person_id"] for r in enterprises.requests(uow, contact, {})["items"]] == [
        "gaoyuan.li"
    ]
    assert enterprises.requests(uow, enterprise_user("x.y", [OTHER]), {})["items"] == []
    out = enterprises.decide(uow, contact, asked["request_id"], {"confirm": True})
    assert out["decided_as"] == "contact"
    bound = enterprise_user("gaoyuan.li", [ENT])
    again = enterprises.request(uow, bound, {"credit_code": OTHER})
    with pytest.raises(Forbidden, match="own request"):
        enterprises.decide(
            uow, enterprise_user("gaoyuan.li", [ENT, OTHER]), again["request_id"], {"confirm": True}
        )


def test_a_refused_request_may_be_asked_again_but_not_twice_at_once(uow):
    asked = enterprises.register(uow, registration(), hasher=HASHER)["request"]
    me = enterprise_user("gaoyuan.li")
    with pytest.raises(Conflict, match="asked for"):
        enterprises.request(uow, me, {"credit_code": ENT})
    office = actor("admin", "630100")
    out = enterprises.decide(uow, office, asked["request_id"], {"confirm": False, "note": "不符"})
    assert out["status"] == "refused" and json.loads(account(uow).credit_codes) == []
    again = enterprises.request(uow, me, {"credit_code": ENT})
    assert again["request_id"] == asked["request_id"] and again["status"] == "requested"
    assert again["note"] is None and again["decided_by"] is None


def test_only_an_enterprise_user_asks(uow):
    with pytest.raises(Forbidden):
        enterprises.request(uow, actor("staff", "630102"), {"credit_code": ENT})
    with pytest.raises(Invalid):
        enterprises.request(uow, enterprise_user("a.b"), {"credit_code": "91630102MA7522T5X0"})
