"""The agency alliance rules (CX 慈溪科技型中小企业服务站管理办法, articles 5–24).

Pure Python: no Flask, SQLAlchemy or kombu. Every number of the seed is the
default of an ``AllianceRules`` field, so a city can publish its own version.

* **Admission** (第五条): at least 5 in-city high-tech engagements in the last two years.
* **Selection** (第十六、十七条): an enterprise order (点单) goes to the named agency;
  otherwise agencies of the service item's category take turns in rank order
  (last year's in-city high-tech business volume, high to low). Month-to-date,
  city-wide, including the order being placed, one agency may hold at most 50 %
  of one service item's orders and 30 % of the total service value. Rotation
  skips an agency that would exceed a cap while another eligible one would not;
  when every eligible agency would exceed, the next in rotation still gets the
  order and the decision records a cap override (a demand is never left
  undispatched because of caps). A minimum monthly volume below which caps are
  not applied is a parameter (default 0: literal).
* **Exit** (第二十二、二十四条): an unjustified refusal after coordination, or two
  reassignments (调单) in one calendar year, and the other grounds of 第二十二条.

Beside this module, as pure as it: the month close (``month_close``, 第十七条), the
contract's money (``terms``, 第十四、十九、二十条) and the life of an agency order with
its reassignment (``order_life``, 第二十四条).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

CATEGORIES = ("finance", "rd", "patent", "general")
CATEGORY_NAMES = {"finance": "财务类", "rd": "研发类", "patent": "专利类", "general": "综合类"}
AGENCY_STATUSES = ("active", "paused", "exited")

# 第二十二条 (一)–(五), and 第二十四条 (two reassignments in a year)
EXIT_GROUNDS = {
    "refusal": "无故拒接服务站派单，经协调仍不服从（第二十二条第一项）",
    "unfair_competition": "私下低价抢单、站内额外收费、抹黑中伤同业（第二十二条第二项）",
    "low_quality": "服务质量不高、效率低下、态度不正，整改仍无明显改善（第二十二条第三项）",
    "infringement": "侵害企业知识产权、泄漏企业商业秘密（第二十二条第四项）",
    "reputation": "其他损害服务站声誉或利益的行为（第二十二条第五项）",
    "reassignments": "同一年度内两起被调单（第二十四条，视同第二十二条第三项）",
}

# Outcomes of one dispatch decision.
ORDERED = "ordered"  # 企业点单
ROTATION = "rotation"  # 按排位依次派单
CAP_OVERRIDE = "cap_override"  # every eligible member would exceed a cap
NO_AGENCY = "no_agency"  # no eligible member at all (alert)
BLACKLISTED = "blacklisted"  # 企业黑名单: no agency dispatch
OUTCOMES = (ORDERED, ROTATION, CAP_OVERRIDE, NO_AGENCY, BLACKLISTED)


@dataclass(frozen=True)
class AllianceRules:
    """One city's alliance parameters; the defaults are the seed's numbers."""

    item_cap_percent: int = 50
    value_cap_percent: int = 30
    min_monthly_volume: int = 0
    admission_min_engagements: int = 5
    settlement_days: int = 7
    bond_fraction_denominator: int = 3
    bond_max: int = 5000
    bond_after_months: int = 12
    reassignments_to_exit: int = 2
    warn_hours: int = 24

    def problems(self) -> dict[str, str]:
        """Field → why the rule set is inconsistent (empty when it is fine)."""
        out: dict[str, str] = {}
        for name in ("item_cap_percent", "value_cap_percent"):
            v = getattr(self, name)
            if not 0 < v <= 100:
                out[name] = "a cap is a percentage above 0 and at most 100"
        for name in (
            "min_monthly_volume",
            "admission_min_engagements",
            "settlement_days",
            "bond_max",
            "bond_after_months",
            "warn_hours",
        ):
            if getattr(self, name) < 0:
                out[name] = "must not be negative"
        if self.bond_fraction_denominator < 1:
            out["bond_fraction_denominator"] = "must be at least 1"
        if self.reassignments_to_exit < 1:
            out["reassignments_to_exit"] = "must be at least 1"
        return out

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    category: str
    rank_basis: int
    status: str = "active"
    paused_until: date | None = None

    def paused_on(self, day: date) -> bool:
        return self.status == "paused" and (self.paused_until is None or day <= self.paused_until)


def admission_problem(engagements_two_years: int, rules: AllianceRules) -> str | None:
    """Why an agency cannot join (第五条), or None."""
    need = rules.admission_min_engagements
    if engagements_two_years < need:
        return (
            f"admission needs at least {need} in-city high-tech engagements in the last two "
            f"years (近两年承接市内高企业务{need}单以上); {engagements_two_years} given"
        )
    return None


# --- the month's tallies --------------------------------------------------------


@dataclass
class MonthTally:
    """Month-to-date orders and value city-wide: what the caps are counted on."""

    orders: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, item)
    item_orders: Counter[str] = field(default_factory=Counter)
    value: Counter[str] = field(default_factory=Counter)  # agency → CNY
    total_value: int = 0
    total_orders: int = 0

    def record(self, agency: str, item: str, price: int) -> None:
        self.orders[(agency, item)] += 1
        self.item_orders[item] += 1
        self.value[agency] += price
        self.total_value += price
        self.total_orders += 1

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int]]) -> MonthTally:
        """From (agency, item, price) rows of the month."""
        t = cls()
        for agency, item, price in rows:
            t.record(agency, item, price)
        return t

    def item_share(self, agency: str, item: str, extra: int = 0) -> Fraction:
        total = self.item_orders[item] + extra
        return Fraction(self.orders[(agency, item)] + extra, total) if total else Fraction(0)

    def value_share(self, agency: str, price: int = 0) -> Fraction:
        total = self.total_value + price
        return Fraction(self.value[agency] + price, total) if total else Fraction(0)


def percent(f: Fraction) -> str:
    return f"{float(f) * 100:.1f}%"


def cap_breaches(
    rules: AllianceRules, tally: MonthTally, agency: str, item: str, price: int
) -> list[str]:
    """The caps ``agency`` would exceed by taking this order (shares include it)."""
    if tally.total_orders + 1 <= rules.min_monthly_volume:
        return []
    out = []
    share = tally.item_share(agency, item, extra=1)
    if share > Fraction(rules.item_cap_percent, 100) and (
        tally.item_orders[item] + 1 > rules.min_monthly_volume
    ):
        n = tally.orders[(agency, item)] + 1
        out.append(
            f"would hold {n} of {tally.item_orders[item] + 1} orders of {item} "
            f"({percent(share)} > {rules.item_cap_percent}%)"
        )
    vshare = tally.value_share(agency, price)
    if vshare > Fraction(rules.value_cap_percent, 100):
        out.append(
            f"would hold {percent(vshare)} of the service value (> {rules.value_cap_percent}%)"
        )
    return out


# --- selection -------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    outcome: str
    agency_id: str | None
    reason: str
    skipped: tuple[tuple[str, str], ...] = ()
    moves_rotation: bool = False  # whether the category's rotation pointer moves to agency_id

    def explanation(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "chosen": self.agency_id,
            "reason": self.reason,
            "skipped": [{"agency_id": a, "why": w} for a, w in self.skipped],
        }


def rotation_order(agencies: Iterable[Agency], category: str) -> list[Agency]:
    """Members of a category in rank order: last year's volume high to low, then id."""
    return sorted(
        (a for a in agencies if a.category == category), key=lambda a: (-a.rank_basis, a.id)
    )


def _cycle(order: Sequence[Agency], last: str | None) -> list[Agency]:
    """``order`` rotated to start right after ``last`` (an agency that left keeps its slot)."""
    if last is None or not order:
        return list(order)
    ids = [a.id for a in order]
    i = ids.index(last) + 1 if last in ids else 0  # exited members keep their slot
    return list(order[i:]) + list(order[:i])


def enterprise_order_problem(
    agency: Agency | None, agency_category: str, excluded: Collection[str]
) -> str | None:
    """Why an enterprise order (点单) cannot go to the agency it names, or None."""
    if agency is None:
        return "is not a member of this city's alliance"
    if agency.status == "exited":
        return "has exited the alliance"
    if agency.category != agency_category:
        return f"serves {agency.category}, not {agency_category}"
    if agency.id in excluded:
        return "was taken off this order (调单)"
    return None


def passed_over(agency: Agency, today: date, excluded: Collection[str]) -> str | None:
    """Why rotation passes over a member before looking at the caps, or None."""
    if agency.id in excluded:
        return "taken off this order (调单)"
    if agency.status == "exited":
        return "exited the alliance"
    if agency.paused_on(today):
        return f"paused until {agency.paused_until}" if agency.paused_until else "paused"
    return None


def _sort_out(
    cycle: Iterable[Agency], today: date, excluded: Collection[str]
) -> tuple[list[Agency], list[Agency], list[tuple[str, str]]]:
    """The members in turn: eligible ones, paused ones (the last resort), and who was
    passed over and why."""
    eligible: list[Agency] = []
    paused: list[Agency] = []
    skipped: list[tuple[str, str]] = []
    for a in cycle:
        why = passed_over(a, today, excluded)
        if why is None:
            eligible.append(a)
            continue
        skipped.append((a.id, why))
        if a.id not in excluded and a.paused_on(today):
            paused.append(a)
    return eligible, paused, skipped


def _by_rotation(
    eligible: Sequence[Agency],
    paused: Sequence[Agency],
    skipped: list[tuple[str, str]],
    *,
    item: str,
    agency_category: str,
    price: int,
    tally: MonthTally,
    rules: AllianceRules,
) -> Decision:
    """The first eligible member in turn that stays within the caps; else the override."""
    over: list[tuple[Agency, list[str]]] = []
    for a in eligible:
        breaches = cap_breaches(rules, tally, a.id, item, price)
        if not breaches:
            return Decision(
                ROTATION,
                a.id,
                f"next in rotation among {CATEGORY_NAMES.get(agency_category, agency_category)} "
                f"members by rank",
                tuple(skipped + [(b.id, "; ".join(w)) for b, w in over]),
                moves_rotation=True,
            )
        over.append((a, breaches))
    return _override(eligible, paused, skipped, over, agency_category)


def _override(
    eligible: Sequence[Agency],
    paused: Sequence[Agency],
    skipped: list[tuple[str, str]],
    over: list[tuple[Agency, list[str]]],
    agency_category: str,
) -> Decision:
    """No member stays within the caps: the next in rotation anyway, or no agency."""
    fallback = eligible or paused
    if not fallback:
        return Decision(
            NO_AGENCY,
            None,
            f"no eligible {agency_category} member agency in this city's alliance",
            tuple(skipped),
        )
    chosen = fallback[0]
    rest = [(b.id, "; ".join(w)) for b, w in over if b.id != chosen.id]
    why = "every eligible member would exceed a cap" if eligible else "every member is paused"
    return Decision(
        CAP_OVERRIDE,
        chosen.id,
        f"{why}: next in rotation dispatched anyway (cap override recorded)",
        tuple(skipped + rest),
        moves_rotation=True,
    )


def select_agency(
    *,
    item: str,
    agency_category: str,
    price: int,
    agencies: Sequence[Agency],
    tally: MonthTally,
    last_rotated: str | None,
    today: date,
    rules: AllianceRules,
    ordered: str | None = None,
    blacklisted: bool = False,
    exclude: Iterable[str] = (),
) -> Decision:
    """Which member agency serves this order, and why (CX 第十六、十七条, 第二十一条)."""
    if blacklisted:
        return Decision(
            BLACKLISTED,
            None,
            "the enterprise is on the alliance blacklist (第二十一条): no agency dispatch",
        )
    excluded = set(exclude)
    skipped: list[tuple[str, str]] = []
    if ordered:
        named = {a.id: a for a in agencies}.get(ordered)
        why = enterprise_order_problem(named, agency_category, excluded)
        if named is not None and why is None:
            note = (
                " (paused for caps, enterprise orders excepted)" if named.paused_on(today) else ""
            )
            return Decision(
                ORDERED, named.id, f"enterprise order (企业点单) names {named.id}{note}"
            )
        skipped.append((ordered, f"ordered by the enterprise but {why}; dispatched by rotation"))
    cycle = _cycle(rotation_order(agencies, agency_category), last_rotated)
    eligible, paused, passed = _sort_out(cycle, today, excluded)
    return _by_rotation(
        eligible,
        paused,
        skipped + passed,
        item=item,
        agency_category=agency_category,
        price=price,
        tally=tally,
        rules=rules,
    )
