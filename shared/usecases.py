"""What a use case may refuse with, in the domain's words.

Use cases have the form ``f(uow, actor, command)``: a unit of work (``shared.db``), the
``Principal`` acting, and the command's fields. They never speak HTTP: they raise one of
the errors below, and ``shared.errors`` maps each kind to a status code once (Open311 maps
them once more to its own error list). A refusal carries a message for people and, where a
field is to blame, ``fields`` by location and name — the same shape as a validation error:

    raise Invalid.field("effective_from", "rules take effect today or later")
    # → 422 {"error": {..., "fields": {"json": {"effective_from": [...]}}}}

Nothing here imports Flask or SQLAlchemy.
"""

from __future__ import annotations

from typing import Any, Self


class DomainError(Exception):
    """A use case's refusal. ``code`` overrides the kind's default error code."""

    def __init__(
        self, message: str, *, fields: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.code = code

    @classmethod
    def field(cls, name: str, message: str, *, where: str = "json") -> Self:
        """The refusal of one field of one location (``json``, ``query``, ``path``)."""
        return cls("The request is invalid; see fields.", fields={where: {name: [message]}})


class NotFound(DomainError):
    """No such record — or none the actor may see (a 404 either way, never a hint)."""


class Conflict(DomainError):
    """The record's state does not allow the command (already done, taken, closed)."""


class Invalid(DomainError):
    """The command's values break a rule: a field out of range, an inconsistent set."""


class Forbidden(DomainError):
    """The actor may not do this: outside its subtree, or not its role."""


class Unauthenticated(DomainError):
    """The caller is not who it claims to be: a wrong password, an expired session."""


class Unavailable(DomainError):
    """Something the use case needs is not there for a moment (retry later)."""
