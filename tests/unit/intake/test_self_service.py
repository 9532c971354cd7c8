"""An enterprise user files, follows, rates and consents for its own enterprises only."""

from __future__ import annotations

import pytest

from services.intake.accepting import own_filing
from services.intake.reading import sees
from shared.auth import Principal
from shared.usecases import Forbidden, Invalid

MINE, OTHER = "91630102MA7522T5X6", "91630103MA75A3KX7N"
USER = Principal("person:qiye", "企业", "enterprise", "630102", credit_codes=(MINE,))


def body(code=MINE, **more):
    return {"enterprise": {"credit_code": code}, "source": "online", **more}


def test_an_enterprise_files_for_its_own_registered_enterprise_where_it_is_registered():
    assert own_filing(USER, body(), "630102") == "630102"
    assert own_filing(USER, body(source="order"), "630102") == "630102"  # 企业点单
    with pytest.raises(Forbidden):
        own_filing(USER, body(OTHER), "630103")
    with pytest.raises(Invalid):  # not registered: its office registers it first
        own_filing(USER, body(), None)
    with pytest.raises(Invalid):
        own_filing(USER, body(jurisdiction="630100"), "630102")
    with pytest.raises(Invalid):  # an enterprise does not enter a demand "at the window"
        own_filing(USER, body(source="window"), "630102")


class Row:
    def __init__(self, credit_code, jurisdiction):
        self.enterprise_credit_code, self.jurisdiction = credit_code, jurisdiction


def test_an_enterprise_sees_its_own_demands_and_nothing_else():
    assert sees(USER, Row(MINE, "630102"))
    assert sees(USER, Row(MINE, "630000"))  # filed above it: still its own
    assert not sees(USER, Row(OTHER, "630102"))  # in its unit, not its enterprise
    office = Principal("k", "城东区", "district", "630102")
    assert sees(office, Row(OTHER, "630102")) and not sees(office, Row(MINE, "630103"))
