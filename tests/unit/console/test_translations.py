"""The console's English catalogue (services/console/translations): every string the
console's code and templates hold in ``_()``/``_l()`` is translated (neither empty nor
fuzzy), each translation keeps its msgid's ``%(name)s`` placeholders, the committed ``.mo``
is the compiled ``.po``, and the sign-in page comes out in English when the session asks
for it (Chinese by default). No platform: the console app over a WSGI stub."""

from __future__ import annotations

import re
from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from services.console.app import create_app
from shared.config import load_settings

CONSOLE = Path(__file__).resolve().parents[3] / "services" / "console"
PO = CONSOLE / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# babel.cfg's method map, and the Makefile's keywords (pybabel's defaults and ``-k _l``)
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)")


class _Any(defaultdict):
    """Format arguments: any name, its value ``0`` (fits ``%s`` and ``%d``)."""

    def __missing__(self, key: str) -> int:
        return 0


def _po() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def _extracted() -> dict[str, list[str]]:
    """Each msgid extracted now from the console's sources, with where it is."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(CONSOLE), METHOD_MAP, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def _ids(m: Any) -> tuple[str, ...]:
    return m if isinstance(m, tuple) else (m,)


def test_every_extracted_string_is_translated() -> None:
    catalog = _po()
    extracted = _extracted()
    assert len(extracted) > 500  # the extraction saw the console
    missing = []
    for msgid, where in sorted(extracted.items()):
        m = catalog.get(msgid)
        strings = _ids(m.string) if m is not None else ()
        if m is None or m.fuzzy or not all(s.strip() for s in strings):
            missing.append(f"{msgid!r} ({', '.join(where)})")
    assert not missing, "untranslated; run make translations and translate:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for m in _po():
        if not m.id:
            continue
        for msgid, msgstr in zip(_ids(m.id), _ids(m.string), strict=False):
            if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
                wrong.append(f"{msgid!r} → {msgstr!r}")
                continue
            try:  # a msgid that formats (templates always do) formats translated too
                msgid % _Any()
            except (ValueError, TypeError):
                continue
            try:
                msgstr % _Any()
            except (ValueError, TypeError) as e:
                wrong.append(f"{msgid!r} → {msgstr!r}: {e}")
    assert not wrong, "\n".join(wrong)


def test_the_committed_mo_is_the_compiled_po() -> None:
    compiled = BytesIO()
    write_mo(compiled, _po())
    compiled.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)
    fresh = read_mo(compiled)

    def pairs(c: Catalog) -> dict[Any, Any]:
        return {m.id: m.string for m in c if m.id}

    assert pairs(committed) == pairs(fresh), "the .mo is stale; run make translations"


@pytest.fixture
def client(tmp_path: Path) -> Any:
    def nothing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b"{}"]

    settings = load_settings({"ONESTOP_DATA_DIR": str(tmp_path)})
    app = create_app(settings, wsgi=nothing)
    app.config["TESTING"] = True
    return app.test_client()


def test_the_sign_in_page_is_chinese_by_default(client: Any) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    assert "登录" in page and "Sign in" not in page


def test_the_sign_in_page_in_english(client: Any) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in" in page and "Password" in page
    assert "登录" not in page
