"""Which city's alliance serves a jurisdiction, and who may manage or read it."""

import pytest

from services.dispatch.city_alliance import city_of, city_scope
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor


def test_a_jurisdiction_is_served_by_its_citys_alliance():
    assert city_of("630102") == "630100"
    assert city_of("630100") == "630100"
    assert city_of("630000") is None  # a province has none


def test_a_city_is_managed_by_keys_over_it_and_read_from_below():
    assert city_scope(actor("admin", "630000"), "630100") == "630100"
    assert city_scope(actor("district", "630100"), "630100") == "630100"
    with pytest.raises(Forbidden, match="City 630100 is outside your subtree"):
        city_scope(actor("district", "630102"), "630100")
    assert city_scope(actor("staff", "630102"), "630100", read=True) == "630100"
    with pytest.raises(Forbidden):
        city_scope(actor("staff", "630202"), "630100", read=True)


def test_only_a_city_code_names_an_alliance():
    with pytest.raises(Invalid) as e:
        city_scope(actor("admin", "630000"), "630102", "json")
    assert e.value.fields == {"json": {"city": ["not a city-level code"]}}
    with pytest.raises(Invalid) as e:
        city_scope(actor("admin", "630000"), "63x")
    assert list(e.value.fields["path"]) == ["city"]
