"""The standard contract's money (CX 第十四、十九、二十条): the performance bond and when
settlement is due.

Pure Python: no Flask, SQLAlchemy or kombu. Settlement within a week of the policy funds;
performance bond = 1/3 of the price, or the part above the policy coverage, at most
5,000 CNY, when settlement is expected after more than 12 months or the price exceeds
the coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.dispatch.alliance import AllianceRules


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
