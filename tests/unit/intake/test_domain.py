from datetime import UTC, datetime

import pytest

from services.intake.domain import demand_year, unified_code
from shared.creditcodes import credit_check_char, credit_code_error


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # published example of a valid code
        "91630102MA7522T5X6",
        "91630104710405288K",
    ],
)
def test_valid_credit_codes(code):
    assert credit_code_error(code) is None


def test_check_character_is_computed_per_gb32100():
    assert credit_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100I000100Y43", "capital letters"),
        ("91350100m000100Y43", "capital letters"),
    ],
)
def test_invalid_credit_codes_say_why(code, why):
    assert why in credit_code_error(code)


def test_unified_code_format_and_year_in_china_time():
    assert unified_code("630102", 2026, 7) == "630102-2026-000007"
    with pytest.raises(ValueError):
        unified_code("630102", 2026, 1_000_000)
    # 2026-12-31 17:00 UTC is already 2027-01-01 in Beijing.
    assert demand_year(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == 2027
    assert demand_year(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == 2026


def test_sx_coverage_flags_use_the_seed_thresholds():
    from services.intake.domain import coverage_flags

    assert coverage_flags(100_000_000, False, True).needs_named_person
    assert not coverage_flags(99_999_999, False, False).needs_named_person
    assert not coverage_flags(200_000_000, True, False).needs_named_person
    f = coverage_flags(500_000_000, True, False)
    assert f.needs_one_plan and not f.needs_named_person
    assert not coverage_flags(499_999_999, True, False).needs_one_plan
    both = coverage_flags(800_000_000, False, False)
    assert both.needs_named_person and both.needs_one_plan
    assert coverage_flags(None, False, False) == coverage_flags(0, None, None)
    assert not coverage_flags(10**9, None, None).needs_one_plan  # unknown is not a finding


def test_catalogue_covers_every_category_with_known_agency_categories():
    from shared.contracts.catalogue import CATEGORY_NAMES, ITEMS, item_error
    from shared.contracts.intake import CATEGORIES

    assert {i.category for i in ITEMS} == set(CATEGORIES) == set(CATEGORY_NAMES)
    assert {i.agency_category for i in ITEMS} <= {"finance", "rd", "patent", "general", None}
    assert len({i.code for i in ITEMS}) == len(ITEMS)
    assert item_error("ip", "ip_filing") is None
    assert "belongs to the category ip" in item_error("technology", "ip_filing")
    assert "unknown service item" in item_error("ip", "nope")
