"""Forms (Flask-WTF: each carries its CSRF token) and the services' field-level messages
shown next to the fields they name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from services.console.client import Refused

# The satisfaction revisit's scale (满意度回访: 1–5), best first: the enterprise's and the staff's
# forms.
RATINGS = (
    ("5", _l("非常满意")),
    ("4", _l("满意")),
    ("3", _l("基本满意")),
    ("2", _l("不满意")),
    ("1", _l("非常不满意")),
)


def show_refusal(form: FlaskForm, refused: Refused, names: Mapping[str, str] | None = None) -> None:
    """Put a service's field-level messages on the form's fields (``names``: the service's
    field → the form's, where they differ); the rest, and the message, on the form."""
    names = names or {}
    placed = False
    for where, messages in refused.field_messages().items():
        target = names.get(where, where.replace(".", "_"))
        form_field = getattr(form, target, None) if target else None
        if form_field is not None and hasattr(form_field, "errors"):
            form_field.errors = [*list(form_field.errors or []), *messages]
            placed = True
        else:
            form.form_errors.append(
                f"{where}: {'; '.join(messages)}" if where else "; ".join(messages)
            )
    if not placed and not form.form_errors:
        form.form_errors.append(refused.message)


def data_of(form: FlaskForm, *names: str) -> dict[str, Any]:
    """The named fields' values, leaving out the empty ones."""
    out = {}
    for n in names:
        value = getattr(form, n).data
        if value not in (None, "", []):
            out[n] = value
    return out


def options(pairs: Any, *, group: str | None = None) -> list[SelectChoice]:
    """``(value, label)`` pairs as a select's or a radio group's options."""
    return [SelectChoice(str(v), label, optgroup=group) for v, label in pairs]
