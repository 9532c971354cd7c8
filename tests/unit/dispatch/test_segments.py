"""The segment rule of standing 包保 links (``services.dispatch.segments``)."""

from __future__ import annotations

from services.dispatch.domain import Department
from services.dispatch.segments import Profile, follows_link, rule_link, segments_of

CITY, COUNTY, PARK = "630100", "630102", "630102-P0001"
DEPTS = [
    Department("city-office", CITY, "市局办公室", (), True),
    Department("city-hitech", CITY, "高新技术处", ("hitech_enterprise", "technology"), False),
    Department("city-bio", CITY, "社会科技处", ("field:生物医药",), False),
    Department("city-key", CITY, "重点企业专班", ("key",), False),
    Department("county", COUNTY, "城东区科技局", (), True),
    Department("county-flags", COUNTY, "两清零专班", ("named_person", "one_plan"), False),
    Department("county-park", COUNTY, "园区服务科", (f"park:{PARK}",), False),
]


def link(**profile):
    found = rule_link(Profile(**{"jurisdiction": COUNTY, **profile}), DEPTS)
    return (found.department.id, found.basis) if found else None


def test_an_enterprise_of_no_segment_goes_to_the_nearest_default():
    assert link() == ("county", "rule:default")
    assert link(jurisdiction="630103") == ("city-office", "rule:default")  # no county default
    assert rule_link(Profile("640100"), DEPTS) is None  # no department on its path


def test_growth_tier_a_city_segment_beats_the_county_default():
    assert link(growth_tier="hitech_enterprise") == ("city-hitech", "rule:hitech_enterprise")
    assert link(growth_tier="tech_sme") == ("county", "rule:default")  # nobody owns that tier


def test_industry_field_beats_growth_tier():
    got = link(technology_field="生物医药", growth_tier="hitech_enterprise")
    assert got == ("city-bio", "rule:field:生物医药")


def test_key_list_beats_every_other_segment():
    got = link(is_key=True, needs_named_person=True, technology_field="生物医药")
    assert got == ("city-key", "rule:key")


def test_flags_two_qingling():
    assert link(needs_named_person=True) == ("county-flags", "rule:named_person")
    assert link(needs_one_plan=True, growth_tier="hitech_enterprise") == (
        "county-flags",
        "rule:one_plan",
    )


def test_park_enterprises_go_to_the_park_department():
    assert link(jurisdiction=PARK, growth_tier="hitech_enterprise") == (
        "county-park",
        f"rule:park:{PARK}",
    )
    # another park of the county is not that department's
    assert link(jurisdiction="630102-P0002") == ("county", "rule:default")


def test_nearest_jurisdiction_first_for_one_segment():
    depts = [*DEPTS, Department("county-hitech", COUNTY, "区高新科", ("hitech_enterprise",))]
    found = rule_link(Profile(COUNTY, growth_tier="hitech_enterprise"), depts)
    assert found is not None and found.department.id == "county-hitech"


def test_segments_most_specific_first():
    p = Profile(
        "630102-P0001-W0001",
        growth_tier="tech_sme",
        technology_field="新材料",
        is_key=True,
        needs_named_person=True,
        needs_one_plan=True,
    )
    assert segments_of(p) == [
        "key",
        "named_person",
        "one_plan",
        "park:630102-P0001",
        "field:新材料",
        "tech_sme",
    ]


def test_only_explicit_and_segment_links_decide_a_demands_owner():
    assert follows_link("explicit") and follows_link("rule:key")
    assert not follows_link("rule:default") and not follows_link(None)
