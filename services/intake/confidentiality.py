"""Confidentiality (XN): what a reader sees of a demand as an Open311 service request.

A handling party (an ``api_key`` within the demand's subtree) sees everything; the
public sees the request, its state, who handles it and the promise — and the
enterprise's description, address and media only with its consent to share. Without
that consent the public reads the outcome, not the office's free text. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.calendar import service_notice_of
from services.intake.lifecycle import FINAL
from shared.contracts.catalogue import BY_CODE, CATEGORY_NAMES

# without consent the public sees the outcome, not the office's free text
PUBLIC_NOTES = {"closed": "已办结", "rejected": "不予受理"}


def as_request(
    row: Any, last_update: datetime | None, public: bool, notes: str | None
) -> dict[str, Any]:
    """A stored demand as a service request, for the public (``public``) or a handling
    party; ``notes`` are the closing or rejecting note, ``last_update`` its latest step."""
    item = BY_CODE.get(row.service_item or "")
    hidden = public and not row.consent_to_share
    return {
        "service_request_id": row.code,
        "status": "closed" if row.status in FINAL else "open",
        "status_notes": (PUBLIC_NOTES.get(row.status) if hidden and notes else notes),
        "service_name": item.name if item else CATEGORY_NAMES.get(row.category),
        "service_code": row.service_item,
        "description": None if hidden else row.description,
        "agency_responsible": row.owner_name,
        "service_notice": service_notice_of(row),
        "requested_datetime": row.accepted_at,
        "updated_datetime": last_update or row.accepted_at,
        "expected_datetime": row.expected_at,
        "address": None if hidden else row.address,
        "address_id": None if hidden else row.address_id,
        "zipcode": None,
        "lat": None if hidden else row.lat,
        "long": None if hidden else row.long,
        "media_url": None if hidden else row.media_url,
    }
