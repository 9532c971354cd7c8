"""The README's commands run from a fresh clone after ``make install`` (issue 17): no bare
``python`` (where only ``python3`` exists it is not found, and a system python has none of
the dependencies), every ``.venv/bin/X`` is something ``make install`` puts there, every
``python -m module`` imports and every script exists, every ``make`` target exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.M | re.S)
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# a bare interpreter or tool as a command (followed by an argument), not .venv/bin/<it>
BARE = re.compile(r"(?:^|[\s(;|&])(python3?|pip3?|pytest|gunicorn)\s+\S")
# onestop as the command (a line's first word, or after ; | & or $( ), not as an argument
# (`kubectl -n onestop …`)
BARE_ONESTOP = re.compile(r"(?:^|[;|&(]\s*)onestop\s+[a-z]")
VENV_TOOL = re.compile(r"\.venv/bin/([\w.-]+)")
MODULE = re.compile(r"\.venv/bin/python\s+-m\s+([\w.<>]+)")
SCRIPT = re.compile(r"\.venv/bin/python\s+([\w./-]+\.py)")
MAKE = re.compile(r"(?:^|[\s(;|&])make\s+([a-z][\w-]*)")
PLACEHOLDERS = {"<name>": "intake", "<svc>": "intake"}


def commands(text: str) -> list[str]:
    """The shell lines of the README's sh blocks and its inline code, one string each."""
    found = []
    for block in SHELL_BLOCK.findall(text):
        found += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    prose = SHELL_BLOCK.sub("", text)
    found += CODE_SPAN.findall(prose)
    return found


def problems(text: str, venv_bin: Path, make_targets: set[str]) -> list[str]:
    out = []
    in_blocks = [ln for b in SHELL_BLOCK.findall(text) for ln in b.splitlines()]
    for line in in_blocks:
        if BARE_ONESTOP.search(line.split("#", 1)[0]):
            out.append(f"bare onestop in a shell block (use .venv/bin/onestop): {line}")
    for cmd in commands(text):
        if m := BARE.search(cmd):
            out.append(f"bare {m.group(1)} (use .venv/bin/{m.group(1)}): {cmd}")
        for tool in VENV_TOOL.findall(cmd):
            if not (venv_bin / tool).exists():
                out.append(f".venv/bin/{tool} is not installed by make install: {cmd}")
        for module in MODULE.findall(cmd):
            for k, v in PLACEHOLDERS.items():
                module = module.replace(k, v)
            if importlib.util.find_spec(module) is None:
                out.append(f"no module {module}: {cmd}")
        for script in SCRIPT.findall(cmd):
            if not (ROOT / script).is_file():
                out.append(f"no script {script}: {cmd}")
        for target in MAKE.findall(cmd):
            if target not in make_targets:
                out.append(f"no make target {target}: {cmd}")
    return out


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


def test_every_readme_command_runs_after_make_install():
    venv_bin = ROOT / ".venv" / "bin"
    if not venv_bin.exists():
        pytest.skip("no .venv: run make install")
    assert problems(README.read_text(), venv_bin, make_targets()) == []


def test_the_checks_can_fail(tmp_path):
    """What the README said before issue 17, and other slips, are each caught."""
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    (venv_bin / "python").touch()
    (venv_bin / "onestop").touch()
    old = (
        "```sh\n"
        "KEY=$(python -c 'import json; print(1)')\n"
        "onestop seed-demo\n"
        "```\n"
        "Run `python -m bench.auth_bench`, `python3 -m pip list`, `.venv/bin/gunicorn -c x y`,\n"
        "`.venv/bin/python -m bench.no_such_bench`, `.venv/bin/python examples/nothing.py`\n"
        "and `make no-such-target`; `python` alone in prose and `onestop run` are fine.\n"
    )
    found = problems(old, venv_bin, {"run"})
    assert len(found) == 8, found
    for expected in (
        "bare python",
        "bare onestop",
        "bare python3",
        ".venv/bin/gunicorn is not installed",
        "no module bench.no_such_bench",
        "no script examples/nothing.py",
        "no make target no-such-target",
    ):
        assert any(expected in p for p in found), (expected, found)
    fixed = old.replace("$(python", "$(.venv/bin/python")
    fixed = fixed.replace("\nonestop", "\n.venv/bin/onestop")
    assert len(problems(fixed, venv_bin, {"run"})) == 6
