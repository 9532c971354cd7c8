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
* **Month close** (第十七条): an agency whose final share of the month exceeds a
  cap is paused for the next month (enterprise orders excepted); if that would
  pause every member of a category, the one with the lowest share stays active.
* **Money** (第十四、十九、二十条): settlement within a week of the policy funds;
  performance bond = 1/3 of the price, or the part above the policy coverage,
  at most 5,000 CNY, when settlement is expected after more than 12 months or
  the price exceeds the coverage.
* **Exit** (第二十二、二十四条): an unjustified refusal after coordination, or two
  reassignments (调单) in one calendar year, and the other grounds of 第二十二条.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
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


def _pct(f: Fraction) -> str:
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
            f"({_pct(share)} > {rules.item_cap_percent}%)"
        )
    vshare = tally.value_share(agency, price)
    if vshare > Fraction(rules.value_cap_percent, 100):
        out.append(f"would hold {_pct(vshare)} of the service value (> {rules.value_cap_percent}%)")
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
    by_id = {a.id: a for a in agencies}
    skipped: list[tuple[str, str]] = []
    if ordered:
        a = by_id.get(ordered)
        why = None
        if a is None:
            why = "is not a member of this city's alliance"
        elif a.status == "exited":
            why = "has exited the alliance"
        elif a.category != agency_category:
            why = f"serves {a.category}, not {agency_category}"
        elif a.id in excluded:
            why = "was taken off this order (调单)"
        if why is None and a is not None:
            note = " (paused for caps, enterprise orders excepted)" if a.paused_on(today) else ""
            return Decision(ORDERED, a.id, f"enterprise order (企业点单) names {a.id}{note}")
        skipped.append((ordered, f"ordered by the enterprise but {why}; dispatched by rotation"))
    members = [a for a in rotation_order(agencies, agency_category)]
    cycle = _cycle(members, last_rotated)
    eligible: list[Agency] = []
    paused: list[Agency] = []
    for a in cycle:
        if a.id in excluded:
            skipped.append((a.id, "taken off this order (调单)"))
        elif a.status == "exited":
            skipped.append((a.id, "exited the alliance"))
        elif a.paused_on(today):
            skipped.append((a.id, f"paused until {a.paused_until}" if a.paused_until else "paused"))
            paused.append(a)
        else:
            eligible.append(a)
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


# --- month close ------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """``2026-11`` → (2026-11-01, 2026-11-30)."""
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(month: str) -> str:
    _, last = month_bounds(month)
    return month_of(last + timedelta(days=1))


@dataclass(frozen=True)
class Pause:
    agency_id: str
    until: date
    reason: str


@dataclass(frozen=True)
class MonthClose:
    pauses: tuple[Pause, ...]
    kept: tuple[tuple[str, str], ...]  # (agency, why it stays active despite a cap)


def _final_excess(
    rules: AllianceRules, tally: MonthTally, agency: str
) -> tuple[Fraction, list[str]]:
    """The agency's worst share relative to its cap, and the caps it ended above."""
    worst = Fraction(0)
    reasons: list[str] = []
    if tally.total_orders <= rules.min_monthly_volume or tally.total_orders == 0:
        return worst, reasons
    for (a, item), n in sorted(tally.orders.items()):
        if a != agency or tally.item_orders[item] <= rules.min_monthly_volume:
            continue
        share = tally.item_share(a, item)
        worst = max(worst, share / Fraction(rules.item_cap_percent, 100))
        if share > Fraction(rules.item_cap_percent, 100):
            reasons.append(f"{n} of {tally.item_orders[item]} orders of {item} ({_pct(share)})")
    vshare = tally.value_share(agency)
    worst = max(worst, vshare / Fraction(rules.value_cap_percent, 100))
    if vshare > Fraction(rules.value_cap_percent, 100):
        reasons.append(f"{_pct(vshare)} of the service value")
    return worst, reasons


def close_month(
    month: str, rules: AllianceRules, tally: MonthTally, agencies: Sequence[Agency]
) -> MonthClose:
    """Who is paused for the next month (第十七条), with the product's one exception."""
    _, last = month_bounds(next_month(month))
    pauses: list[Pause] = []
    kept: list[tuple[str, str]] = []
    for category in CATEGORIES:
        members = [a for a in rotation_order(agencies, category) if a.status != "exited"]
        over = []
        for a in members:
            worst, reasons = _final_excess(rules, tally, a.id)
            if reasons:
                over.append((worst, a, reasons))
        if not over:
            continue
        if len(over) == len(members):  # all would be paused: the lowest share stays active
            over.sort(key=lambda t: (t[0], -t[1].rank_basis, t[1].id))
            _, keep, reasons = over.pop(0)
            kept.append(
                (
                    keep.id,
                    f"ended {month} above a cap ({'; '.join(reasons)}) but stays active: every "
                    f"{category} member would be paused and it has the lowest share",
                )
            )
        for _, a, reasons in over:
            pauses.append(
                Pause(a.id, last, f"ended {month} above a cap: {'; '.join(reasons)} (第十七条)")
            )
    return MonthClose(tuple(pauses), tuple(kept))


# --- contracts and money --------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    price: int
    policy_coverage: int | None
    expected_settlement_months: int | None
    bond: int
    bond_reason: str | None


def contract_terms(
    price: int,
    policy_coverage: int | None,
    expected_settlement_months: int | None,
    rules: AllianceRules,
) -> Terms:
    """The standard contract's bond (第二十条). Our reading of “按服务价款总额1/3（或超过政策
    覆盖部分）计算”: a price above the coverage → the part above it; a long settlement →
    1/3 of the price; both → the larger; at most ``bond_max``; whole yuan, rounded up."""
    if price < 0:
        raise ValueError("price must not be negative")
    amounts: list[tuple[int, str]] = []
    if policy_coverage is not None and price > policy_coverage:
        amounts.append(
            (price - policy_coverage, f"price exceeds the policy coverage ({policy_coverage})")
        )
    if (
        expected_settlement_months is not None
        and expected_settlement_months > rules.bond_after_months
    ):
        third = -(-price // rules.bond_fraction_denominator)
        amounts.append(
            (
                third,
                f"settlement expected after {expected_settlement_months} months "
                f"(> {rules.bond_after_months})",
            )
        )
    if not amounts:
        return Terms(price, policy_coverage, expected_settlement_months, 0, None)
    amount, why = max(amounts)
    bond = min(amount, rules.bond_max)
    return Terms(price, policy_coverage, expected_settlement_months, bond, why)


def settlement_due(funds_received: date, rules: AllianceRules) -> date:
    """第十九条: paid within one week after the enterprise receives the policy funds."""
    return funds_received + timedelta(days=rules.settlement_days)


# --- the life of an agency order ------------------------------------------------

OPEN_STATUSES = ("dispatched", "acknowledged", "in_progress", "refused")
ORDER_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("dispatched",), "acknowledged"),
    "start": (("dispatched", "acknowledged"), "in_progress"),
    "feedback": (("acknowledged", "in_progress"), "in_progress"),
    "complete": (("acknowledged", "in_progress"), "completed"),
    "refuse": (("dispatched", "acknowledged"), "refused"),
    "comply": (("refused",), "acknowledged"),  # coordination: the agency takes it after all
    "release": (("refused",), "withdrawn"),  # coordination: refusal justified or not, re-dispatched
    "reassign": (("dispatched", "acknowledged", "in_progress"), "reassigned"),
    "withdraw": (OPEN_STATUSES, "withdrawn"),
}


class IllegalAction(ValueError):
    def __init__(self, action: str, status: str) -> None:
        allowed = [a for a, (froms, _) in ORDER_ACTIONS.items() if status in froms]
        super().__init__(
            f"cannot {action} an order that is {status}; allowed: {', '.join(allowed) or 'none'}"
        )
        self.allowed = allowed


def order_step(action: str, status: str) -> str:
    """The status an agency order moves to, or ``IllegalAction``."""
    froms, to = ORDER_ACTIONS[action]
    if status not in froms:
        raise IllegalAction(action, status)
    return to


def reassignment_problem(overdue: bool, complaints: int) -> str | None:
    """第二十四条: only a lagging order that drew a complaint is moved (调单)."""
    missing = []
    if not overdue:
        missing.append("the order is not overdue")
    if complaints == 0:
        missing.append("there is no complaint on it")
    return (
        "reassignment (调单) needs an overdue order with a complaint: " + " and ".join(missing)
        if missing
        else None
    )


def exits_after_reassignment(reassignments_this_year: int, rules: AllianceRules) -> bool:
    """第二十四条: the second reassignment of the same agency in one year means exit."""
    return reassignments_this_year >= rules.reassignments_to_exit
