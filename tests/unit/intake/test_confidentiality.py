"""Confidentiality (XN): without consent, a public read shows no demand details."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.intake import confidentiality


def row(consent):
    return SimpleNamespace(
        code="630102-2026-000001",
        service_item="process_improvement",
        category="technology",
        consent_to_share=consent,
        status="in_progress",
        description="工艺细节",
        owner_name="城东区科学技术局",
        accepted_at=datetime(2026, 11, 25, tzinfo=UTC),
        expected_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
        deadline_provisional=False,
        complexity="general",
        address="八一路 1 号",
        address_id="A1",
        lat=36.6,
        long=101.8,
        media_url="https://files.example/p.jpg",
    )


DETAILS = ("description", "address", "address_id", "lat", "long", "media_url")


@pytest.mark.parametrize(
    ("consent", "public", "shown"),
    [
        (False, True, False),  # the public, no consent: redacted
        (True, True, True),  # the public, consent given: shown
        (False, False, True),  # a handling party (api_key within the subtree): shown
    ],
)
def test_details_follow_consent_and_reader(consent, public, shown):
    out = confidentiality.as_request(row(consent), None, public, None)
    assert all((out[k] is not None) == shown for k in DETAILS)
    # what is never confidential: the request, its state, who handles it and the promise
    assert out["service_request_id"] and out["status"] == "open"
    assert out["agency_responsible"] == "城东区科学技术局" and out["expected_datetime"]
