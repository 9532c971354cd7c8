"""The library is the library: ``shared/`` imports no service and not the runtime."""

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"


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
