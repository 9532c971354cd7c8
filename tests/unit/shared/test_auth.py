"""What a caller is: roles, subtrees, the province's administrators, the key format.
(Keys issued: tests/unit/directory/test_keys.py; verified: tests/unit/shared/test_directory.py.)"""

import pytest

from shared.auth import Principal, new_key, secret_digest, split_token
from shared.events import is_province


def test_principal_sees_its_subtree_only():
    city = Principal("k", "c", "staff", "630100")
    assert city.can_see("630102") and city.can_see("630100")
    assert not city.can_see("630000") and not city.can_see("620102")
    assert not city.can_see("bogus")
    assert city.can_see("630102-P0001") and city.can_see("630102001-S0001")
    assert not Principal("k", "p", "staff", "630102-P0001").can_see("630102-P0002")


def test_a_key_is_its_id_and_a_secret_of_which_only_the_hash_is_kept():
    key_id, digest, key = new_key()
    assert split_token(key) == (key_id, key.split("_")[2])
    assert digest == secret_digest(key.split("_")[2]) and key.split("_")[2] not in digest
    for bad in ("garbage", "osk__x", "xyz_a_b", "osk_a_b_c"):
        assert split_token(bad) is None


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
