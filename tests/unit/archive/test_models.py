"""Archive's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.archive.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = ["archived_events.jurisdiction"]
DEMAND_CODES = ["archived_events.demand_code"]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)
