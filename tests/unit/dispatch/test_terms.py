"""The standard contract's money (CX 第十四、十九、二十条) with the seed's own numbers."""

from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.alliance import AllianceRules
from services.dispatch.terms import contract_terms, settlement_due

SEED = AllianceRules()


# --- contracts and money (第十四、十九、二十条) -----------------------------------------


def test_a_price_above_the_policy_coverage_bonds_the_part_above_it():
    t = contract_terms(10_000, 8_000, None, SEED)
    assert t.bond == 2_000
    assert "coverage" in t.bond_reason


def test_a_price_within_the_coverage_needs_no_bond():
    for coverage in (10_000, 20_000):
        t = contract_terms(10_000, coverage, 6, SEED)
        assert t.bond == 0
        assert t.bond_reason is None


def test_settlement_after_twelve_months_needs_no_bond_after_thirteen_it_does():
    assert contract_terms(9_000, None, 12, SEED).bond == 0
    t = contract_terms(9_000, None, 13, SEED)
    assert t.bond == 3_000  # 1/3 of the price
    assert "13 months" in t.bond_reason
    assert "12" in t.bond_reason


@pytest.mark.parametrize(("price", "bond"), [(10, 4), (9, 3), (10_000, 3_334), (1, 1), (0, 0)])
def test_a_third_of_the_price_is_rounded_up_to_whole_yuan(price, bond):
    assert contract_terms(price, None, 24, SEED).bond == bond


def test_both_grounds_take_the_larger_bond():
    t = contract_terms(9_000, 5_000, 13, SEED)  # 4000 above coverage vs 3000
    assert t.bond == 4_000
    assert "coverage" in t.bond_reason
    t = contract_terms(9_000, 8_000, 13, SEED)  # 1000 above coverage vs 3000
    assert t.bond == 3_000
    assert "months" in t.bond_reason


@pytest.mark.parametrize(
    ("price", "coverage", "months"),
    [(30_000, None, 13), (20_000, 10_000, None), (60_000, 0, 36), (15_003, None, 13)],
)
def test_the_bond_is_at_most_5000(price, coverage, months):
    assert contract_terms(price, coverage, months, SEED).bond == 5_000


def test_just_under_the_bond_cap():
    assert contract_terms(14_997, None, 13, SEED).bond == 4_999


def test_the_terms_echo_the_inputs():
    t = contract_terms(9_000, 5_000, 13, SEED)
    assert (t.price, t.policy_coverage, t.expected_settlement_months) == (9_000, 5_000, 13)


def test_a_negative_price_is_refused():
    with pytest.raises(ValueError, match="negative"):
        contract_terms(-1, None, None, SEED)


def test_settlement_is_due_seven_days_after_the_policy_funds():
    assert settlement_due(date(2026, 11, 10), SEED) == date(2026, 11, 17)
    assert settlement_due(date(2026, 12, 28), SEED) == date(2027, 1, 4)
    assert settlement_due(date(2028, 2, 25), SEED) == date(2028, 3, 3)
