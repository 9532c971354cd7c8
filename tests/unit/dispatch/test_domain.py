from services.dispatch.domain import Department, choose_owner

DEPTS = [
    Department("prov", "630000", "province office", is_default=True),
    Department("city", "630100", "city office", is_default=True),
    Department("hitech", "630100", "hi-tech", segments=("technology",)),
    Department("cd", "630102", "城东区", is_default=True),
]


def test_nearest_jurisdiction_default_wins():
    d = choose_owner("630102", "talent", DEPTS)
    assert d.department.id == "cd"
    assert "630102" in d.reason


def test_segment_department_within_the_same_jurisdiction_wins_over_default():
    d = choose_owner("630100", "technology", DEPTS)
    assert d.department.id == "hitech"
    assert "segment" in d.reason


def test_walks_up_when_the_county_has_no_department():
    d = choose_owner("630103", "technology", DEPTS)
    assert d.department.id == "hitech"
    d = choose_owner("630103", "funding", DEPTS)
    assert d.department.id == "city"
    d = choose_owner("632301", "funding", DEPTS)
    assert d.department.id == "prov"


def test_no_owner_is_none_not_a_guess():
    assert choose_owner("620102", "technology", DEPTS) is None
    assert choose_owner("630102", "technology", []) is None
