"""A province-year for scoring: every scorecard, ranking and KPI of one year, timed.

Builds, with PostgreSQL ``COPY``, what scoring's consumers would have stored for a province
(53 jurisdictions: the province, 8 prefectures, 44 counties; 10 departments and 60 staff
each; ``--enterprises`` enterprises with their growth tiers; ``--demands`` demands with their
facts — accepted, collected, analysed, published, matched, solved, closed, rated — attributed
to their owners; two visit tallies per visit), then runs scoring's own use cases on it, in
this process, against the migrated schema:

* every ranking (each jurisdiction × departments and staff, for the year);
* every jurisdiction's KPIs for the year;
* one unit's scorecard (with its first records), for ``--cards`` units: median and worst;
* the records behind one item, a page.

Prints one JSON report: the time of each, the total, the peak resident memory of the process
that ran the reads (a fresh one: building the data is not counted) and PostgreSQL's largest
process. Issue 14's goal (P5): all of it ≤ 30 s, one scorecard ≤ 200 ms,
no process above 300 MB. Nothing is asserted.

Usage: ``python -m bench.province_bench [--demands 1000000] [--enterprises 100000]``
(``make bench-province``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from services.scoring.attribution import (
    UNCOUNTED,
    Attributed,
    TallyKey,
    accumulate,
    sum_up,
    tally_demand,
)
from services.scoring.domain.facts import period_of, stage_input

YEAR = 2026
TIERS = (None, "tech_sme", "tech_sme", "hitech_candidate", "hitech_enterprise", "little_giant")
CATEGORIES = ("technology", "technology", "technology", "ip", "funding", "talent", "other")


def jurisdictions() -> list[str]:
    out = ["630000"]
    for city in range(1, 9):
        out.append(f"63{city:02d}00")
        for county in range(1, 6 if city < 5 else 7):
            out.append(f"63{city:02d}{county:02d}")
    return out[:53]


def counties(codes: list[str]) -> list[str]:
    return [c for c in codes if not c.endswith("00")]


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def build(url: str, demands: int, enterprises: int, seed: int = 7) -> dict[str, Any]:
    import psycopg

    rng = random.Random(seed)
    codes = jurisdictions()
    places = counties(codes)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cur = conn.cursor()
        units: dict[str, list[tuple[str, str]]] = {}
        with cur.copy("COPY units (id, type, name, jurisdiction) FROM STDIN") as cp:
            for j in codes:
                mine = [(f"d-{j}-{k}", "department") for k in range(10)]
                mine += [(f"s-{j}-{k}", "staff") for k in range(60)]
                units[j] = mine
                for uid, kind in mine:
                    cp.write_row((uid, kind, uid, j))
        counts["units"] = sum(len(v) for v in units.values())
        ents: list[tuple[str, str]] = []
        with (
            cur.copy(
                "COPY enterprises (credit_code, jurisdiction, growth_tier, needs_named_person,"
                " needs_one_plan) FROM STDIN"
            ) as cp,
        ):
            for i in range(enterprises):
                code, j = f"91{i:016d}", rng.choice(places)
                ents.append((code, j))
                cp.write_row((code, j, rng.choice(TIERS), rng.random() < 0.02, rng.random() < 0.02))
        with cur.copy(
            "COPY tier_history (event_id, credit_code, growth_tier, since, at) FROM STDIN"
        ) as cp:
            n = 0
            for code, _ in ents:
                first = date(YEAR - 2, rng.randint(1, 12), rng.randint(1, 28))
                cp.write_row((_id(rng), code, "tech_sme", first, None))
                n += 1
                if rng.random() < 0.3:
                    later = date(YEAR, rng.randint(1, 12), rng.randint(1, 28))
                    cp.write_row((_id(rng), code, rng.choice(TIERS[3:]), later, None))
                    n += 1
        counts["tier_history"] = n
        facts = 0
        with (
            cur.copy(
                "COPY demand_facts (event_id, fact, demand_code, jurisdiction, category,"
                " credit_code, period, value, at, owner_id, input) FROM STDIN"
            ) as fcp,
        ):
            owners_rows = []
            month_rows: list[tuple[Any, ...]] = []
            unit_tallies: dict[TallyKey, tuple[int, int]] = {}
            for i in range(demands):
                credit, j = ents[rng.randrange(len(ents))]
                code = f"{j}-{YEAR}-{i:06d}"
                category = rng.choice(CATEGORIES)
                owner, kind = rng.choice(units[j])
                t0 = datetime(YEAR, 1, 1, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(360 * 86400)
                )
                owners_rows.append((code, kind, owner, j, category, t0))
                steps: list[tuple[str, int | None, datetime]] = [
                    ("accepted", None, t0),
                    ("collected", None, t0 + timedelta(hours=1)),
                ]
                at = t0 + timedelta(hours=1)
                for fact, p in (("analysed", 0.8), ("published", 0.7), ("matched", 0.4)):
                    if rng.random() < p:
                        at += timedelta(hours=rng.randint(1, 48))
                        steps.append((fact, None, at))
                if rng.random() < 0.85:
                    at += timedelta(days=rng.randint(1, 20))
                    if rng.random() < 0.6:
                        steps.append(("solved", None, at))
                    steps.append(("closed", int(rng.random() < 0.8), at))
                    if rng.random() < 0.6:
                        steps.append(("rating", rng.randint(1, 5), at + timedelta(days=2)))
                summed = sum_up(
                    [
                        SimpleNamespace(
                            fact=fact,
                            period=period_of(when),
                            jurisdiction=j,
                            credit_code=credit,
                            value=value,
                        )
                        for fact, value, when in steps
                    ]
                )
                month_rows += [
                    (
                        code,
                        m["month"],
                        j,
                        m["accepted_by"],
                        m["accepted"],
                        m["closed"],
                        m["solved"],
                        m["last_close_value"],
                        m["next_close"],
                        m["first_close"],
                        m["rating_sum"],
                        m["ratings"],
                    )
                    for m in summed.values()
                ]
                attributed = [
                    Attributed(
                        owner,
                        None if fact in UNCOUNTED else stage_input(fact, category),
                        fact,
                        period_of(when),
                        value,
                    )
                    for fact, value, when in steps
                ]
                accumulate(unit_tallies, tally_demand(attributed))
                for fact, value, when in steps:
                    name = (
                        None
                        if fact in ("accepted", "closed", "rating")
                        else stage_input(fact, category)
                    )
                    fcp.write_row(
                        (
                            _id(rng),
                            fact,
                            code,
                            j,
                            category,
                            credit if fact == "accepted" else None,
                            period_of(when),
                            value,
                            when,
                            owner,
                            name,
                        )
                    )
                    facts += 1
        counts["demand_facts"] = facts
        with cur.copy(
            "COPY demand_months (demand_code, month, jurisdiction, accepted_by, accepted, closed,"
            " solved, last_close_value, next_close, first_close, rating_sum, ratings) FROM STDIN"
        ) as cp:
            for row in month_rows:
                cp.write_row(row)
        counts["demand_months"] = len(month_rows)
        with cur.copy(
            'COPY unit_tallies (unit_id, month, input, prev, "next", n, total) FROM STDIN'
        ) as cp:
            for key, (n, total) in unit_tallies.items():
                cp.write_row((*key, n, total))
        counts["unit_tallies"] = len(unit_tallies)
        with cur.copy(
            "COPY demand_owners (demand_code, unit_type, unit_id, unit_name, jurisdiction,"
            " category) FROM STDIN"
        ) as cp:
            for code, kind, owner, j, category, _ in owners_rows:
                cp.write_row((code, kind, owner, owner, j, category))
        with cur.copy(
            "COPY owner_history (event_id, demand_code, since, unit_type, unit_id, unit_name)"
            " FROM STDIN"
        ) as cp:
            for code, kind, owner, _, _, t0 in owners_rows:
                cp.write_row((_id(rng), code, t0 + timedelta(hours=1), kind, owner, owner))
        visits = demands // 3
        with (
            cur.copy(
                "COPY tally_records (event_id, unit_type, unit_id, unit_name, jurisdiction,"
                " period, item, stage, demand_code, visit_id, recorded_at) FROM STDIN"
            ) as tcp,
        ):
            vrows = []
            for _ in range(visits):
                j = rng.choice(codes)
                staff = rng.choice(units[j][10:])[0]
                dept = rng.choice(units[j][:10])[0]
                month = f"{YEAR}-{rng.randint(1, 12):02d}"
                event, visit = _id(rng), _id(rng)
                now = datetime(YEAR, 12, 31, tzinfo=UTC)
                for kind, uid in (("staff", staff), ("department", dept)):
                    tcp.write_row(
                        (event, kind, uid, uid, j, month, "visits", "logged", None, visit, now)
                    )
                vrows.append((event, ents[rng.randrange(len(ents))], month, visit))
        with cur.copy(
            "COPY visit_enterprises (event_id, credit_code, jurisdiction, period, visit_id)"
            " FROM STDIN"
        ) as cp:
            for event, (credit, j), month, visit in vrows:
                cp.write_row((event, credit, j, month, visit))
        counts["visits"] = visits
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return {"seconds": round(time.perf_counter() - started, 1), "rows": counts}


def vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, not inherited from
    the parent that started it), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def backend_peak_mb(pg_pid: int) -> float:
    """The largest resident memory among PostgreSQL's processes now, in MB."""
    out = subprocess.run(
        ["ps", "-o", "rss=", "--ppid", str(pg_pid)], capture_output=True, text=True
    ).stdout.split()
    return round(max((int(x) for x in out), default=0) / 1024, 1)


def run(url: str, cards: int, pg_pid: int) -> dict[str, Any]:
    from services.scoring import kpis as kpi_cases
    from services.scoring import scorecards
    from services.scoring.models import metadata, outbox
    from shared.auth import Principal
    from shared.db import Database, UnitOfWork

    db = Database(url, metadata)
    uow = UnitOfWork(db, outbox)
    province = Principal("bench", "bench", "admin", "630000")
    codes = jurisdictions()
    period = str(YEAR)
    report: dict[str, Any] = {}
    started = time.perf_counter()
    t = time.perf_counter()
    biggest = 0
    for j in codes:
        for unit_type in ("department", "staff"):
            r = scorecards.rankings(
                uow, province, {"jurisdiction": j, "unit_type": unit_type, "period": period}
            )
            biggest = max(biggest, len(json.dumps(r, default=str)))
    report["rankings"] = {
        "count": len(codes) * 2,
        "seconds": round(time.perf_counter() - t, 2),
        "largest_response_kb": round(biggest / 1024, 1),
    }
    t = time.perf_counter()
    for j in codes:
        kpi_cases.kpis(uow, province, {"jurisdiction": j, "period": period})
    report["kpis"] = {"count": len(codes), "seconds": round(time.perf_counter() - t, 2)}
    rng = random.Random(3)
    times = []
    for _ in range(cards):
        j = rng.choice(codes)
        unit = f"{rng.choice('ds')}-{j}-{rng.randrange(10)}"
        t = time.perf_counter()
        scorecards.scorecard(uow, province, {"unit": unit, "period": period})
        times.append(time.perf_counter() - t)
    report["scorecard_ms"] = {
        "count": cards,
        "median": round(statistics.median(times) * 1000, 1),
        "max": round(max(times) * 1000, 1),
    }
    t = time.perf_counter()
    page = scorecards.item_records(
        uow,
        province,
        {"unit": "d-630101-0", "period": period, "item": "technology_demands", "offset": 100},
    )
    report["records_page_ms"] = {
        "seconds": round((time.perf_counter() - t) * 1000, 1),
        "total": page["total"],
    }
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    report["peak_rss_mb"] = {
        "this_process": vm_hwm_mb(),
        "postgresql_largest_now": backend_peak_mb(pg_pid),
    }
    db.engine.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demands", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--read", metavar="URL", help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--pg-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:  # the reads alone, in a fresh process: its memory is theirs only
        print(json.dumps(run(args.read, args.cards, args.pg_pid)))
        return
    from onestop import migrate
    from onestop.localservers import Postgres
    from shared.config import load_settings

    pg = Postgres(durable=False).start()
    try:
        url = pg.create_database("scoring")
        settings = load_settings({"ONESTOP_SCORING_DATABASE_URL": url})
        migrate.upgrade(settings, ("scoring",))
        built = build(url, args.demands, args.enterprises)
        assert pg.proc is not None
        child = [sys.executable, "-m", "bench.province_bench", "--read", url]
        child += ["--cards", str(args.cards), "--pg-pid", str(pg.proc.pid)]
        reads = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        report = {
            "demands": args.demands,
            "enterprises": args.enterprises,
            "build": built,
            "read": json.loads(reads.strip().splitlines()[-1]),
            "goals": "P5: all ≤ 30 s; one scorecard ≤ 200 ms; no process above 300 MB",
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
