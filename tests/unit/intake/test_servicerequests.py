"""Open311's reads on a fake unit of work: which requests a reader sees, with their
latest step and outcome; the public reads no details without consent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.georeport import RequestQuery
from services.intake.loop import change_status
from services.intake.servicerequests import get_request, list_requests, request_conditions
from shared.usecases import NotFound
from tests.fakes import actor

EVERYWHERE = RequestQuery(start=datetime(2000, 1, 1, tzinfo=UTC))


def test_a_query_by_id_names_only_the_ids_within_its_jurisdiction():
    conditions = request_conditions(RequestQuery(jurisdiction="630100", ids=("a",), end=None))
    assert [c.left.name for c in conditions] == ["jurisdiction", "code"]
    assert len(request_conditions(RequestQuery(statuses=frozenset({"open", "closed"})))) == 0
    assert len(request_conditions(RequestQuery(statuses=frozenset({"closed"})))) == 1


def test_the_public_reads_the_outcome_not_the_details_without_consent(uow, accept):
    private = accept()["code"]
    shared = accept(consent_to_share=True, location={"address": "八一路 1 号"})["code"]
    for to, note in (("in_progress", ""), ("feedback", ""), ("closed", "办结说明")):
        more = {"resolution": "solved"} if to == "closed" else {}
        change_status(uow, actor("district"), private, {"to": to, "note": note, **more})
    public = {r["service_request_id"]: r for r in list_requests(uow, None, EVERYWHERE)}
    assert public[private]["description"] is None and public[private]["status"] == "closed"
    assert public[private]["status_notes"] == "已办结"  # not the office's own words
    assert public[private]["updated_datetime"] > public[private]["requested_datetime"]
    assert public[shared]["address"] == "八一路 1 号" and public[shared]["status_notes"] is None
    handler = {
        r["service_request_id"]: r for r in list_requests(uow, actor("district"), EVERYWHERE)
    }
    assert handler[private]["status_notes"] == "办结说明" and handler[private]["description"]
    closed = RequestQuery(start=EVERYWHERE.start, statuses=frozenset({"closed"}))
    assert [r["service_request_id"] for r in list_requests(uow, None, closed)] == [private]


def test_a_handling_party_reads_only_its_subtree(uow, accept):
    code = accept()["code"]
    assert list_requests(uow, actor("district", "630103"), EVERYWHERE) == []
    assert list_requests(uow, None, RequestQuery(ids=())) == []
    assert get_request(uow, None, code)[0]["service_request_id"] == code
    for reader, asked in ((actor("district", "630103"), code), (None, "nope")):
        with pytest.raises(NotFound) as missing:
            get_request(uow, reader, asked)
        assert missing.value.message == f"service_request_id {asked} not found"
