"""Scoring's rule sets (table A.1 as data), versioned per jurisdiction and inherited down
the tree (``shared.rulesets.RuleSets``): the one in force, and publishing a new version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring.domain.table import default_rule_set
from services.scoring.domain.validation import RuleSetError, validate
from services.scoring.models import rule_sets
from shared.auth import Principal
from shared.contracts import scoring as contract
from shared.db import UnitOfWork
from shared.events import UNIT_CODE_RE
from shared.rulesets import RuleSets
from shared.scoping import require_rules_readable, require_visible
from shared.timezone import china_today
from shared.usecases import Invalid

RULE_SETS = RuleSets(rule_sets, body="body")

# (the jurisdiction it comes from — "default" for table A.1 —, version, body)
RuleSetInForce = tuple[str, int, dict[str, Any]]


def rule_set_for(s: Session, jurisdiction: str, on: date) -> RuleSetInForce:
    """The rule set in force on a day: the nearest jurisdiction on the path with a
    version in effect, else table A.1 (version 0)."""
    found = RULE_SETS.in_force(s, jurisdiction, on)
    if found is None:
        return "default", 0, default_rule_set()
    return found


def rule_set_version(s: Session, jurisdiction: str, version: int) -> RuleSetInForce:
    """A jurisdiction's own published version (0: table A.1); ``Invalid`` if it has none."""
    row = s.execute(
        select(rule_sets).where(
            rule_sets.c.jurisdiction == jurisdiction, rule_sets.c.version == version
        )
    ).first()
    if row is not None:
        return jurisdiction, row.version, json.loads(row.body)
    if version != 0:
        raise Invalid.field("version", f"{jurisdiction} has no rule set version {version}")
    return "default", 0, default_rule_set()


def check_code(jurisdiction: str) -> None:
    """A jurisdiction named in the path is a unit code of the tree, a park's as well as a
    division's (``Invalid`` otherwise)."""
    if not UNIT_CODE_RE.fullmatch(jurisdiction):
        raise Invalid.field("jurisdiction", "not a unit code", where="path")


def get_rule_set(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> dict[str, Any]:
    """The rule set in force today for ``jurisdiction``, its notes and its own versions."""
    check_code(jurisdiction)
    require_rules_readable(actor, jurisdiction)
    with uow.read() as s:
        source, version, body = rule_set_for(s, jurisdiction, china_today())
        history = RULE_SETS.versions(s, jurisdiction)
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        "version": version,
        "rule_set": body,
        "notes": validate(body),
        "versions": [{k: v for k, v in h.items() if k != "body"} for h in history],
    }


def publish_rule_set(
    uow: UnitOfWork,
    actor: Principal,
    jurisdiction: str,
    command: Mapping[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """A new version effective from a date (``command``: ``effective_from``, ``rule_set``);
    inconsistent caps or weights are refused, each with its reason."""
    check_code(jurisdiction)
    require_visible(actor, jurisdiction)
    effective_from: date = command["effective_from"]
    RuleSets.check_effective(effective_from)
    body = command["rule_set"]
    try:
        validate(body)
    except RuleSetError as exc:
        raise Invalid(
            f"Inconsistent rule set: {exc}", fields={"json": {"rule_set": exc.problems}}
        ) from None
    with uow:
        version, published_at = RULE_SETS.publish(
            uow.session, jurisdiction, effective_from, body, actor.key_id
        )
        uow.emit(
            contract.rule_set_published(
                jurisdiction=jurisdiction,
                correlation_id=correlation_id,
                payload={
                    "jurisdiction": jurisdiction,
                    "version": version,
                    "effective_from": effective_from.isoformat(),
                    "body": body,
                    "actor": actor.key_id,
                    "at": published_at.isoformat(),
                },
            )
        )
        uow.commit()
    return get_rule_set(uow, actor, jurisdiction)
