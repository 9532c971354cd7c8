"""Standing links on a fake unit of work: the backfill the dispatch worker runs on start."""


def test_enterprises_known_before_links_existed_are_linked_when_the_worker_starts(alliance):
    """The backfill: every enterprise without a link gets the rules' link, a chunk at a
    time, once; one no department owns (outside the map) stays unlinked, and a second
    run changes nothing."""
    from sqlalchemy import insert, select

    from services.dispatch import standing
    from services.dispatch.models import enterprises, standing_links

    rows = [
        {"credit_code": f"9163010200000000{n:02d}", "name": f"企业{n}", "jurisdiction": "630102"}
        for n in range(7)
    ] + [{"credit_code": "916302020000000099", "name": "海东", "jurisdiction": "630202"}]
    with alliance:
        alliance.session.execute(insert(enterprises), rows)
        alliance.commit()
    old_chunk, standing.BACKFILL_CHUNK = standing.BACKFILL_CHUNK, 3
    try:
        assert standing.link_unlinked(lambda: alliance) == 7
        assert standing.link_unlinked(lambda: alliance) == 0
    finally:
        standing.BACKFILL_CHUNK = old_chunk
    with alliance.read() as s:
        links = {r.credit_code: r for r in s.execute(select(standing_links))}
    assert set(links) == {r["credit_code"] for r in rows[:7]}
    assert {r.department_id for r in links.values()} == {"cd-kjj"}  # the district's default
    linked = [e for e in alliance.committed if e.event_type == "responsibility.linked"]
    assert len(linked) == 7


def test_the_demo_expert_pool_is_seeded_once(uow):
    from services.dispatch.experts import list_experts, seed_experts
    from tests.fakes import actor

    rows = [
        ("ex-a", "630100", "甲", ("新材料",), "青海大学"),
        ("ex-b", "630102", "乙", ("光伏", "新能源"), "研究所"),
    ]
    assert seed_experts(uow, rows) == 2
    assert seed_experts(uow, rows) == 0
    pool = list_experts(uow, actor("staff", "630102"), {"limit": 50})
    assert [(e["id"], e["fields"], e["available_today"]) for e in pool] == [
        ("ex-b", ["光伏", "新能源"], True)
    ]
