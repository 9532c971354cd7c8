"""The updates feed: every step appended, read back oldest first within the subtree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.feed import record_update, updates
from shared.usecases import NotFound
from tests.fakes import actor


def test_the_feed_reads_back_every_step_with_its_details(uow, accept):
    code = accept()["code"]
    at = datetime(2026, 12, 1, 2, tzinfo=UTC)
    with uow:
        record_update(uow, code, "screening", "k-1", at, note="复杂", details={"urgency": "high"})
        uow.commit()
    feed = updates(uow, actor("district", "630100"), code)
    assert [(u["kind"], u["to_status"], u["note"]) for u in feed] == [
        ("transition", "accepted", "受理 accepted"),
        ("screening", None, "复杂"),
    ]
    assert feed[0]["details"] == {} and feed[1]["details"] == {"urgency": "high"}
    assert feed[1]["actor"] == "k-1" and feed[1]["at"] == at
    with pytest.raises(NotFound):
        updates(uow, actor("district", "630103"), code)
