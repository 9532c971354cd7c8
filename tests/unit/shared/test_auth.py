import pytest
from sqlalchemy import select

from onestop import migrate
from shared.auth import Directory, Principal, api_keys
from shared.auth import metadata as md
from shared.db import Database
from shared.events import is_province


@pytest.fixture
def directory(embedded_settings):
    migrate.upgrade(embedded_settings, ("directory",))
    d = Directory(Database(embedded_settings.database_url("directory"), md), cache_seconds=0)
    for code, name in [("630000", "青海省"), ("630100", "西宁市"), ("630102", "城东区")]:
        d.add_jurisdiction(code, name)
    return d


def test_keys_are_stored_hashed_and_authenticate(directory):
    key = directory.create_key(name="district sys", role="district", jurisdiction="630102")
    _, key_id, secret = key.split("_")
    with directory.db.session() as s:
        row = s.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().one()
    assert secret not in str(dict(row))
    p = directory.authenticate(key)
    assert (p.role, p.jurisdiction) == ("district", "630102")
    assert directory.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert directory.authenticate("garbage") is None
    assert directory.revoke(key_id)
    assert directory.authenticate(key) is None


def test_key_rules(directory):
    with pytest.raises(ValueError, match="role"):
        directory.create_key(name="x", role="root", jurisdiction="630102")
    with pytest.raises(ValueError, match="agency_id"):
        directory.create_key(name="x", role="agency", jurisdiction="630100")
    with pytest.raises(ValueError, match="unknown jurisdiction"):
        directory.create_key(name="x", role="staff", jurisdiction="620100")


def test_principal_sees_its_subtree_only(directory):
    city = directory.authenticate(
        directory.create_key(name="c", role="staff", jurisdiction="630100")
    )
    assert city.can_see("630102") and city.can_see("630100")
    assert not city.can_see("630000") and not city.can_see("620102")
    assert not city.can_see("bogus")
    assert [j["code"] for j in directory.subtree("630100")] == ["630100", "630102"]


def test_unknown_keys_are_not_cached(directory):
    for i in range(50):
        assert directory.authenticate(f"osk_{i:012x}_secret") is None
    assert directory._cache == {}


@pytest.mark.parametrize(
    ("code", "province"),
    [
        ("630000", True),
        ("110000", True),
        ("630100", False),  # a prefecture (city)
        ("630102", False),  # a county (district)
        ("000000", False),
        ("63000", False),
        ("6300000", False),
        ("６３００００", False),  # full-width digits are not a code
        ("", False),
    ],
)
def test_a_province_is_a_division_code_ending_in_four_zeros(code, province):
    assert is_province(code) is province


def test_only_a_province_administrator_may_verify_the_platform_wide_chain():
    def admin(role, code):
        return Principal("k", "n", role, code).is_province_admin

    assert admin("admin", "630000")
    assert not admin("admin", "630100")  # a city's administrator
    assert not admin("admin", "630102")
    for role in ("district", "staff", "agency"):
        assert not admin(role, "630000")
