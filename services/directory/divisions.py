"""The official administrative divisions, and what importing them changes in the directory.

Pure Python: no Flask, SQLAlchemy or kombu. The data is GB/T 2260 as the Ministry of Civil
Affairs publishes it (民政口径), vendored in ``data/`` (see ``data/SOURCE.md``); an
administrator may supply a CSV of the same shape instead.

* **The file** (``read_divisions``): ``code,name,level,parent``, UTF-8, optional BOM. Codes
  are 6 digits for the national levels — province ``xx0000``, prefecture ``xxxx00``, county
  any other — and 9 for a township (its county's code and 3 digits, not ``000``). A parent is
  a prefix-consistent ancestor: a prefecture's is its province; a county's is its prefecture
  (``xxxx00``) or, directly under a province (Beijing's districts, 429004 仙桃), its province;
  a township's is its county, or a prefecture without counties (441900 东莞). An empty parent
  is taken from the file (the nearest ancestor present); a parent given but not in the file
  is left for the caller to find in the directory (``outside_parents``). Every problem is
  reported with its line number, and a file with any problem is not applied (422).
* **The history** (``read_changes``, ``final_successor``): ``data/changes.csv`` maps a
  retired code to the code that replaced it; a chain (632121 平安县 → 630221 平安县 →
  630203 平安区) is followed to a code that is live, and a cycle or a dead end is no successor.
* **The plan** (``plan_import``): a code not in the directory is *opened*; a retired one in
  the file again is *reopened*; a new name is *renamed*, a new parent *moved*; an active
  national unit inside the file's scope but absent from it is *retired*, with its successor
  when the history names a live one — never deleted. The scope is the provinces present in
  the file (importing Qinghai alone never retires a unit of Gansu); townships are in scope
  only when the file has townships, and then those of the counties the file lists townships
  for and of the units this import retires. Units of other levels (parks, stations, work
  stations, with platform codes like ``630102-P1``) are never touched. The changes come in
  an order that can be applied (parents before children, retirements last, children first)
  and each carries the unit's whole state after it; importing the same file again plans
  nothing.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("province", "prefecture", "county", "township")
NATIONAL = frozenset(LEVELS)
DATA_DIR = Path(__file__).resolve().parent / "data"
HEADER = ("code", "name", "level", "parent")
MAX_NAME = 100
CHANGE_KINDS = ("opened", "reopened", "renamed", "moved", "retired")

# which level a parent may have, by the child's level
PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    "province": (),
    "prefecture": ("province",),
    "county": ("prefecture", "province"),
    "township": ("county", "prefecture"),
}


@dataclass(frozen=True)
class Division:
    """One row of a division file: a unit as the official list has it."""

    code: str
    name: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class Unit:
    """The directory's current state of one unit, as the caller reads it from its database."""

    code: str
    name: str
    level: str
    parent: str | None
    retired: bool


@dataclass(frozen=True, kw_only=True)
class Change:
    """One step of an import; ``name``, ``level`` and ``parent`` are the unit after it."""

    kind: str  # "opened" | "renamed" | "moved" | "reopened" | "retired"
    code: str
    name: str
    level: str
    parent: str | None
    old_name: str | None = None
    old_parent: str | None = None
    successor: str | None = None
    reason: str


# --- codes --------------------------------------------------------------------


def _digits(code: str, n: int) -> bool:
    return len(code) == n and code.isascii() and code.isdigit() and code[:2] != "00"


def code_problem(code: str, level: str) -> str | None:
    """Why ``code`` cannot be the code of a unit of ``level``, or None."""
    if level == "township":
        if _digits(code, 9) and code[6:] != "000":
            return None
        return f"a township code is 9 digits, its county's code and 3 more (not 000): {code!r}"
    shapes = {
        "province": ("xx0000", code[2:] == "0000"),
        "prefecture": ("xxxx00", code[4:] == "00" and code[2:4] != "00"),
        "county": ("6 digits not ending in 00", code[4:] != "00"),
    }
    shape, fits = shapes[level]
    if _digits(code, 6) and fits:
        return None
    return f"a {level} code is {shape}: {code!r}"


def level_of(code: str) -> str:
    """The level a well-formed national code's shape says (a province is ``xx0000`` …)."""
    if len(code) == 9:
        return "township"
    if code[2:] == "0000":
        return "province"
    return "prefecture" if code[4:] == "00" else "county"


def ancestors(code: str, level: str) -> tuple[str, ...]:
    """The codes that may be the parent of ``code``, nearest first."""
    if level == "township":
        return (code[:6],)
    if level == "county":
        return tuple(dict.fromkeys((code[:4] + "00", code[:2] + "0000")))
    return (code[:2] + "0000",) if level == "prefecture" else ()


# --- the file -----------------------------------------------------------------


def _row_problems(code: str, name: str, level: str) -> list[str]:
    if level not in NATIONAL:
        return [f"unknown level {level!r} (one of {', '.join(LEVELS)})"]
    out = []
    problem = code_problem(code, level)
    if problem:
        out.append(problem)
    if not name:
        out.append("the name is empty")
    elif len(name) > MAX_NAME:
        out.append(f"the name is longer than {MAX_NAME} characters")
    return out


def _parent_problem(row: Division, levels: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The row's parent (taken from the file when not given) and why it is wrong, or None."""
    allowed = PARENT_LEVELS[row.level]
    candidates = ancestors(row.code, row.level)
    if row.level == "province":
        return None, (f"a province has no parent: {row.parent!r}" if row.parent else None)
    if not row.parent:
        found = [c for c in candidates if levels.get(c) in allowed]
        if found:
            return found[0], None
        return None, f"parent not given and none of {', '.join(candidates)} is in the file"
    if row.parent not in candidates:
        return row.parent, f"parent {row.parent} is not an ancestor of {row.code}"
    level = levels.get(row.parent, level_of(row.parent))
    if level not in allowed:
        want = " or ".join(allowed)
        return row.parent, f"parent {row.parent} is a {level}; a {row.level}'s is a {want}"
    return row.parent, None


def read_divisions(text: str) -> tuple[list[Division], dict[int, list[str]]]:
    """Parse a division file: its rows (parents filled in) and the problems by line number.

    A file with any problem must not be applied; the caller answers 422 with the lines.
    """
    problems: dict[int, list[str]] = {}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    if tuple(header) != HEADER:
        return [], {1: [f"the header must be {','.join(HEADER)}: {','.join(header)!r}"]}
    rows: list[tuple[int, Division]] = []
    seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(HEADER):
            problems[line] = [f"{len(fields)} fields, {len(HEADER)} expected"]
            continue
        code, name, level, parent = (f.strip() for f in fields)
        found = _row_problems(code, name, level)
        if code in seen:
            found.append(f"duplicate code {code} (first on line {seen[code]})")
        seen.setdefault(code, line)
        if found:
            problems[line] = found
        rows.append((line, Division(code, name, level, parent or None)))
    levels: dict[str, str] = {}
    for _, d in rows:  # a duplicate does not hide the first row of its code
        if d.level in NATIONAL:
            levels.setdefault(d.code, d.level)
    out = []
    for line, row in rows:
        found_parent, problem = (None, None)
        if row.level in NATIONAL:
            found_parent, problem = _parent_problem(row, levels)
        if problem:
            problems.setdefault(line, []).append(problem)
        out.append(Division(row.code, row.name, row.level, found_parent))
    if not rows and not problems:
        problems[1] = ["the file has no divisions"]
    return out, problems


def outside_parents(divisions: Iterable[Division]) -> set[str]:
    """Parents the file names but does not hold: the caller checks the directory has them."""
    rows = list(divisions)
    codes = {d.code for d in rows}
    return {d.parent for d in rows if d.parent and d.parent not in codes}


# --- the history --------------------------------------------------------------


def read_changes(text: str) -> dict[str, str]:
    """Retired code → successor code from ``changes.csv``, where the event names one.

    When one code has several events with a successor, the latest year wins (a code can be
    reused and retired again); an event without a year counts as the oldest.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    missing = {"year", "code", "successor"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"changes file lacks the columns {', '.join(sorted(missing))}")
    latest: dict[str, tuple[int, str]] = {}
    for row in reader:
        code, successor = (row["code"] or "").strip(), (row["successor"] or "").strip()
        if not code or not successor or successor == code:
            continue
        year = (row["year"] or "").strip()
        when = int(year) if year.isdigit() else -1
        if when >= latest.get(code, (-2, ""))[0]:
            latest[code] = (when, successor)
    return {code: successor for code, (_, successor) in latest.items()}


def final_successor(code: str, successors: Mapping[str, str], live: Collection[str]) -> str | None:
    """Follow ``code``'s successors to the first live code; None at a dead end or a cycle."""
    seen = {code}
    nxt = successors.get(code)
    while nxt is not None and nxt not in seen:
        if nxt in live:
            return nxt
        seen.add(nxt)
        nxt = successors.get(nxt)
    return None


# --- the plan -----------------------------------------------------------------


def _depth(level: str) -> int:
    return LEVELS.index(level) if level in NATIONAL else len(LEVELS)


def _updates(row: Division, unit: Unit | None) -> list[Change]:
    """What one file row changes about the unit the directory holds under its code."""
    code, name, level, parent = row.code, row.name, row.level, row.parent
    if unit is None:
        return [Change(kind="opened", code=code, name=name, level=level, parent=parent,
                       reason=f"{code} {name} is new")]  # fmt: skip
    if unit.level not in NATIONAL:
        return []  # a platform unit holding the code keeps it
    if unit.retired:
        return [
            Change(
                kind="reopened",
                code=code,
                name=name,
                level=level,
                parent=parent,
                old_name=unit.name if unit.name != name else None,
                old_parent=unit.parent if unit.parent != parent else None,
                reason=f"{code} {name} was retired and is in the official list again",
            )
        ]
    out = []
    if unit.name != name:
        reason = f"{code} renamed {unit.name} → {name}"
        out.append(Change(kind="renamed", code=code, name=name, level=unit.level,
                          parent=unit.parent, old_name=unit.name, reason=reason))  # fmt: skip
    if unit.parent != parent or unit.level != level:
        reason = f"{code} {name}, a {level}, now under {parent} (was {unit.parent})"
        out.append(Change(kind="moved", code=code, name=name, level=level, parent=parent,
                          old_parent=unit.parent, reason=reason))  # fmt: skip
    return out


def _in_scope(unit: Unit, file: Mapping[str, Division], counties: Collection[str]) -> str:
    """Why the file speaks for ``unit`` ('' when it does not); ``counties``: whose townships."""
    if unit.level == "township":
        county = unit.code[:6]
        return f"the file speaks for the townships of {county}" if county in counties else ""
    province = unit.code[:2] + "0000"
    hit = file.get(province)
    return f"the file covers {province} {hit.name}" if hit and hit.level == "province" else ""


def _retirements(
    current: Mapping[str, Unit], file: Mapping[str, Division], successors: Mapping[str, str]
) -> list[Change]:
    """Active national units inside the file's scope but absent from it, children first."""
    absent = sorted(
        (u for c, u in current.items() if not u.retired and u.level in NATIONAL and c not in file),
        key=lambda u: (_depth(u.level), u.code),
    )
    towns = {d.code[:6] for d in file.values() if d.level == "township"}
    reasons: dict[str, str] = {}
    for unit in absent:  # parents first: a retired county brings its townships into scope
        why = _in_scope(unit, file, towns)
        if why:
            reasons[unit.code] = why
            if towns and unit.level != "township":
                towns.add(unit.code)
    live = (set(file) | {c for c, u in current.items() if not u.retired}) - set(reasons)
    names = {c: u.name for c, u in current.items()} | {c: d.name for c, d in file.items()}
    out = []
    for unit in sorted(absent, key=lambda u: (-_depth(u.level), u.code)):  # children first
        if unit.code not in reasons:
            continue
        successor = final_successor(unit.code, successors, live)
        then = f"; succeeded by {successor} {names.get(successor, '')}" if successor else ""
        reason = f"{unit.code} {unit.name} is not in the list and {reasons[unit.code]}{then}"
        out.append(
            Change(
                kind="retired",
                code=unit.code,
                name=unit.name,
                level=unit.level,
                parent=unit.parent,
                successor=successor,
                reason=reason.rstrip(),
            )
        )
    return out


def plan_import(
    current: Mapping[str, Unit],
    incoming: Sequence[Division],
    successors: Mapping[str, str] | None = None,
) -> list[Change]:
    """The import of ``incoming`` into the directory ``current`` (code → unit) as changes.

    ``incoming`` is a file ``read_divisions`` found no problem in; ``successors`` is
    ``read_changes`` of the history. Applying the changes in order and planning again gives
    ``[]``.
    """
    file = {d.code: d for d in incoming}
    updates = [
        change
        for row in sorted(file.values(), key=lambda d: (_depth(d.level), d.code))
        for change in _updates(row, current.get(row.code))
    ]
    return updates + _retirements(current, file, successors or {})


def summary(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes of each kind (every kind present, 0 when none)."""
    counts = Counter(c.kind for c in changes)
    return {kind: counts[kind] for kind in CHANGE_KINDS}
