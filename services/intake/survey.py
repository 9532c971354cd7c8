"""The demands of a 科技体检 survey sheet (bulk demand import): one demand per row,
checked as a demand filed over HTTP (``DemandIn`` and where it may be filed), accepted
with its receipt (the sheet's 接收时间: its time limits count from it), numbered,
announced — every valid row in one transaction (an unexpected failure writes none),
every invalid one reported by its row number with field-level reasons.

Importing the same sheet again makes no demand twice: a row's demand is known by the
SHA-256 of what it asks (enterprise, category, service item, title, description,
receipt) and the jurisdiction it is filed in (``demand_imports``), and a known row
answers the demand it made. Two identical rows of one sheet are one demand: the second
is refused, naming the first.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import insert, select

from services.intake import metrics
from services.intake.accepting import REGISTERED, Filing, filing_of, store_demand
from services.intake.models import demand_imports
from services.intake.registry import Sheet
from services.intake.registry import rejected_row as rejected
from services.intake.schemas import DemandIn
from services.intake.sheets import DEMAND_HEADERS, demand_cell_value, read_sheet
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.usecases import DomainError, Invalid

log = logging.getLogger(__name__)

MAX_ROWS = 5_000  # demands in one sheet; more is refused as a whole (split the sheet)
DEFAULT_SOURCE = "field_visit"  # 科技体检 is done on visits: 走访收集
CONTACT = {"contact_name": "name", "contact_phone": "phone", "contact_email": "email"}
SIMPLE = ("category", "service_item", "title", "description", "source", "complexity")


def demand_input(record: dict[str, Any]) -> dict[str, Any]:
    """A sheet row (``read_sheet`` with ``DEMAND_HEADERS``) as the body of a demand."""
    body: dict[str, Any] = {
        "enterprise": {k: record[k] for k in ("credit_code", "name") if record.get(k) is not None},
        "source": DEFAULT_SOURCE,
    }
    body |= {k: record[k] for k in (*SIMPLE, "jurisdiction") if k in record}
    contact = {CONTACT[k]: record[k] for k in CONTACT if k in record}
    if contact:
        body["contact"] = contact
    for k in ("received_at", "consent_to_share"):
        if k in record:
            body[k] = record[k]
    return body


def row_digest(jurisdiction: str, data: dict[str, Any]) -> str:
    """What identifies a row's demand across imports (its loaded fields)."""
    received = data.get("received_at")
    key = {
        "jurisdiction": jurisdiction,
        "credit_code": data["enterprise"]["credit_code"],
        "category": data["category"],
        "service_item": data.get("service_item"),
        "title": data["title"],
        "description": data["description"],
        "received_at": received.astimezone(UTC).isoformat() if received else None,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def import_demands(
    uow: UnitOfWork, actor: Principal, sheet: Sheet, *, correlation_id: str
) -> dict[str, Any]:
    """Accept the demands of a survey sheet: the report counts the rows, the demands
    accepted and those already imported, lists each row's demand code, and every
    rejected row with its reasons."""
    records = read_sheet(sheet.filename, sheet.content, DEMAND_HEADERS, demand_cell_value)
    if len(records) > MAX_ROWS:
        why = f"at most {MAX_ROWS:,} demands per sheet, this one has {len(records):,}: split it"
        raise Invalid(why, fields={"files": {"file": [why]}})
    report: dict[str, Any] = {
        "rows": len(records),
        "accepted": 0,
        "unchanged": 0,
        "demands": [],
        "rejected": [],
    }
    schema = DemandIn()
    now = datetime.now(UTC)
    seen: dict[str, int] = {}
    accepted: list[tuple[str, str]] = []
    with uow:
        s = uow.session
        for number, record in records:
            try:
                data = schema.load(demand_input(record))
            except ValidationError as exc:
                report["rejected"].append(rejected(number, record.get("credit_code"), exc.messages))
                continue
            known = s.execute(
                REGISTERED, {"credit_code": data["enterprise"]["credit_code"]}
            ).first()
            try:
                jurisdiction = filing_of(
                    uow.directory, actor, data, known.jurisdiction if known else None
                )
            except DomainError as exc:
                report["rejected"].append(
                    rejected(number, record.get("credit_code"), _reasons(exc))
                )
                continue
            digest = row_digest(jurisdiction, data)
            if digest in seen:
                errors = {"title": [f"the same demand as row {seen[digest]}"]}
                report["rejected"].append(rejected(number, record.get("credit_code"), errors))
                continue
            seen[digest] = number
            before = s.execute(
                select(demand_imports.c.demand_code).where(demand_imports.c.row_sha256 == digest)
            ).scalar()
            if before is not None:
                report["unchanged"] += 1
                report["demands"].append({"row": number, "code": before, "outcome": "unchanged"})
                continue
            filing = Filing(jurisdiction, known.name if known else None)
            _, demand = store_demand(uow, data, filing, actor.key_id, correlation_id, now)
            s.execute(
                insert(demand_imports).values(
                    row_sha256=digest,
                    demand_code=demand.code,
                    imported_by=actor.key_id,
                    imported_at=now,
                )
            )
            report["accepted"] += 1
            report["demands"].append({"row": number, "code": demand.code, "outcome": "accepted"})
            accepted.append((demand.category, jurisdiction))
        uow.commit()
    for category, jurisdiction in accepted:
        metrics.counted("accepted", category, jurisdiction)
    log.info("survey sheet: %d demands accepted, %d known", report["accepted"], report["unchanged"])
    return report


def _reasons(exc: DomainError) -> Any:
    """A refusal's field-level reasons (the body's fields), or its message."""
    return (exc.fields or {}).get("json") or {"enterprise": [exc.message]}
