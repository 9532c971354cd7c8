"""Reading the 科技体检 survey sheet: cells into field values (amounts in 万元 to CNY)."""

from services.intake.sheets import cell_value


def test_sheet_numbers_that_are_not_numbers_are_left_for_the_schema():
    for text in ("inf", "Infinity", "nan", "1e999999999", "12abc"):
        assert cell_value("revenue", 10_000, text) == text
        assert cell_value("invention_patents", 1, text) == text
    assert cell_value("revenue", 10_000, "1,200") == 12_000_000
    assert cell_value("invention_patents", 1, 3.0) == 3
    assert cell_value("invention_patents", 1, "2.5") == "2.5"
