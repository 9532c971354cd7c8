"""The layers hold: ``shared/`` imports no service and not the runtime; a service imports
``shared`` and itself — never another service, never the runtime."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT / "shared"
SERVICES = ROOT / "services"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_shared_imports_no_service_and_not_the_runtime():
    offenders = {
        f"{path.relative_to(SHARED.parent)}: {name}"
        for path in SHARED.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in ("services", "onestop")
    }
    assert not offenders, sorted(offenders)


def test_a_service_imports_no_other_service_and_not_the_runtime():
    offenders = set()
    for path in SERVICES.rglob("*.py"):
        own = path.relative_to(SERVICES).parts[0]
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] == "onestop" or (parts[0] == "services" and parts[1:2] not in ([], [own])):
                offenders.add(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, sorted(offenders)
