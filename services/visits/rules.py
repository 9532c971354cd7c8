"""The frequency rules as data: versions published per jurisdiction (the nearest on the
path wins), read and published through ``shared.rulesets``."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.visits.domain import RULE_KINDS, FrequencyRules
from services.visits.models import frequency_rules
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.rulesets import RuleSets
from shared.scoping import require_rules_readable, require_visible
from shared.timezone import china_today
from shared.usecases import Invalid

RULE_SETS = RuleSets(frequency_rules, unit="jurisdiction", body="params", inherit=True)


def rules_for(s: Session, jurisdiction: str, on: date) -> tuple[str, int, FrequencyRules]:
    """The rules in force for a jurisdiction on a day: the nearest jurisdiction on its
    path with a published version in effect, else the seeds' defaults (version 0)."""
    found = RULE_SETS.in_force(s, jurisdiction, on)
    if found is None:
        return "default", 0, FrequencyRules()
    source, version, params = found
    return source, version, FrequencyRules(**params)


def get_rules(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> dict[str, Any]:
    require_rules_readable(actor, jurisdiction)
    with uow.read() as s:
        source, version, rules = rules_for(s, jurisdiction, china_today())
        history = RULE_SETS.versions(s, jurisdiction)
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        "version": version,
        "rules": rules.as_dict(),
        "rule_kinds": {
            k: {"subject": v[0], "period": v[1], "source": v[2]} for k, v in RULE_KINDS.items()
        },
        "versions": [
            {
                "version": v["version"],
                "effective_from": v["effective_from"],
                "rules": v["body"],
                "published_by": v["published_by"],
                "published_at": v["published_at"],
            }
            for v in history
        ],
    }


def publish_rules(
    uow: UnitOfWork, actor: Principal, jurisdiction: str, command: dict[str, Any]
) -> dict[str, Any]:
    """A new version of the jurisdiction's rules; the fields not sent stay as they are in
    force on the day it takes effect."""
    require_visible(actor, jurisdiction)
    changes = dict(command)
    effective = changes.pop("effective_from")
    RuleSets.check_effective(effective)  # refused before the rules are read, as ever
    with uow.read() as s:
        _, _, in_force = rules_for(s, jurisdiction, effective)
    rules = FrequencyRules(**{**in_force.as_dict(), **changes})
    problems = rules.problems()
    if problems:
        raise Invalid(
            "Inconsistent rule set.", fields={"json": {k: [v] for k, v in problems.items()}}
        )
    with uow:
        RULE_SETS.publish(uow.session, jurisdiction, effective, rules.as_dict(), actor.key_id)
        uow.commit()
    return get_rules(uow, actor, jurisdiction)
