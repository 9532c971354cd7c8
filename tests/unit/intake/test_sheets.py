"""Reading the 科技体检 survey sheet: cells into field values (amounts in 万元 to CNY)."""

from services.intake.sheets import _cell


def test_sheet_numbers_that_are_not_numbers_are_left_for_the_schema():
    for text in ("inf", "Infinity", "nan", "1e999999999", "12abc"):
        assert _cell("revenue", 10_000, text) == text
        assert _cell("invention_patents", 1, text) == text
    assert _cell("revenue", 10_000, "1,200") == 12_000_000
    assert _cell("invention_patents", 1, 3.0) == 3
    assert _cell("invention_patents", 1, "2.5") == "2.5"
