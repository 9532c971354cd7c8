"""Scoring's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.scoring.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = [
    "demand_facts.jurisdiction",
    "demand_months.jurisdiction",
    "demand_owners.jurisdiction",
    "enterprises.jurisdiction",
    "manual_records.jurisdiction",
    "rule_sets.jurisdiction",
    "tally_records.jurisdiction",
    "units.jurisdiction",
    "visit_enterprises.jurisdiction",
]
DEMAND_CODES = [
    "demand_facts.demand_code",
    "demand_months.demand_code",
    "demand_owners.demand_code",
    "owner_history.demand_code",
    "tally_records.demand_code",
]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)


def test_the_upgrade_attributes_and_sums_up_the_facts_already_stored(tmp_path):
    """Migration 195fc5178ce7 runs the consumers' attribution over the facts stored before,
    and 293b10e36729 tallies them for their units."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from alembic import command

    from onestop.migrate import alembic_config

    url = f"sqlite:///{tmp_path}/scoring.db"
    cfg = alembic_config("scoring", url)
    command.upgrade(cfg, "5d284e4ab734")
    engine = sa.create_engine(url)
    t = datetime(2026, 11, 2, 2, tzinfo=UTC)
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO owner_history (event_id, demand_code, since, unit_type, unit_id,"
                " unit_name) VALUES ('o1', 'D1', :t, 'department', 'd-a', 'A')"
            ),
            {"t": t},
        )
        c.execute(
            sa.text(
                "INSERT INTO demand_owners (demand_code, unit_type, unit_id, unit_name,"
                " jurisdiction, category) VALUES ('D1', 'department', 'd-a', 'A', '630102',"
                " 'technology')"
            )
        )
        for i, (fact, value) in enumerate(
            [("accepted", None), ("collected", None), ("closed", 1), ("rating", 4)]
        ):
            c.execute(
                sa.text(
                    "INSERT INTO demand_facts (event_id, fact, demand_code, jurisdiction,"
                    " category, credit_code, period, value, at) VALUES (:e, :f, 'D1', '630102',"
                    " 'technology', '91630102MA7522T5X6', '2026-11', :v, :t)"
                ),
                {"e": f"e{i}", "f": fact, "v": value, "t": t},
            )
    command.upgrade(cfg, "head")
    with engine.begin() as c:
        facts = c.execute(
            sa.text("SELECT fact, owner_id, input FROM demand_facts ORDER BY event_id")
        ).all()
        months = c.execute(
            sa.text(
                "SELECT month, accepted_by, accepted, closed, last_close_value, rating_sum,"
                " ratings FROM demand_months"
            )
        ).all()
        tallies = c.execute(
            sa.text('SELECT unit_id, month, input, prev, "next", n, total FROM unit_tallies')
        ).all()
    engine.dispose()
    assert [tuple(r) for r in facts] == [
        ("accepted", "d-a", None),
        ("collected", "d-a", "tech_collected"),
        ("closed", "d-a", None),
        ("rating", "d-a", None),
    ]
    assert [tuple(r) for r in months] == [("2026-11", "91630102MA7522T5X6", 1, 1, 1, 4, 1)]
    assert sorted(tuple(r) for r in tallies) == [
        ("d-a", "2026-11", "closed", "", "", 1, 1),
        ("d-a", "2026-11", "satisfaction", "", "", 1, 4),
        ("d-a", "2026-11", "tech_collected", "", "", 1, 0),
    ]
