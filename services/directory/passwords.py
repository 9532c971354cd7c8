"""People's passwords: the rule a new one must meet, and how it is kept (argon2id).

Pure Python besides argon2-cffi: no Flask, SQLAlchemy or kombu. The rule is what
GB/T 22239-2019 (等保 2.0) level 3 asks of identification and authentication
(8.1.4.1 身份鉴别 a: "身份鉴别信息具有复杂度要求并定期更换"): every number is the default
of a ``PasswordPolicy`` field, so a deployment can publish stricter ones.

* **Complexity** (``problems``): at least 10 characters and at most 128; at least 3 of the
  4 classes — upper case, lower case, digits, other (punctuation, spaces, CJK …; a
  character's class is Python's ``isupper`` / ``islower`` / ``isdigit``); not containing the
  user name or the user name reversed (case-insensitive; names shorter than 3 characters are
  not looked for); not one of the commonly used passwords of ``COMMON_PASSWORDS``. Every
  rule broken is named, in words shown to the person choosing the password.
* **Periodic change** (``change_due``): a password is due for change 90 days after it was set.
* **Keeping** (``Hasher``): argon2id with RFC 9106's low-memory profile (t=3, 64 MiB, p=4:
  about 175 ms per log-in on the 2-core reference box, ``bench/auth_bench.py``); a hash made
  with other parameters still verifies and is flagged for rehashing at the next log-in.
  ``Hasher.cheap()`` is for tests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import Argon2Error, InvalidHashError

# Passwords too common to accept whatever their classes: leaked-list leaders dressed up to
# pass complexity rules, keyboard walks, and the pinyin/number ones common in China
# (woaini = 我爱你, 1314 = 一生一世, 520 = 我爱你). Compared case-insensitively with the
# whole password.
COMMON_PASSWORDS = frozenset(
    p.casefold()
    for p in (
        # shorter than the default minimum, kept for policies that allow 8 or 9 characters
        "Aa123456!",
        "Aa123456",
        "qwer1234",
        "Qwer@1234",
        "1qaz2wsx",
        "1qaz@WSX",
        "P@ssw0rd",
        "Passw0rd!",
        "Test@1234",
        "woaini520",
        # 10 characters or more, and most of them 3 classes or more
        "woaini1314",
        "Woaini1314",
        "Woaini1314!",
        "Woaini@1314",
        "Iloveyou1314",
        "5201314Aa!",
        "Zhang123456",
        "Wang123456!",
        "Aa12345678",
        "Aa123456789",
        "Aa1234567890",
        "Abc@123456",
        "Abcd@12345",
        "Abcd1234!@",
        "Admin@1234",
        "Admin@12345",
        "Admin123456",
        "Root@123456",
        "Huawei@123",
        "Huawei@1234",
        "P@ssw0rd123",
        "P@ssw0rd!@#",
        "Password@123",
        "Password123!",
        "Qwer@12345",
        "Qwer1234!@",
        "Qwerty@123",
        "Qwerty123!",
        "1qaz@WSX3edc",
        "1qaz!QAZ2wsx",
        "1q2w3e4r5T",
        "Asdf@12345",
        "Zxcvbnm123!",
        "Welcome123!",
        "Changeme123",
    )
)


@dataclass(frozen=True)
class PasswordPolicy:
    """The password rule; the defaults meet 等保 2.0 level 3 (GB/T 22239-2019 8.1.4.1 a)."""

    min_length: int = 10
    max_length: int = 128  # beyond this a password is a pasted document, not a secret
    min_classes: int = 3  # of the 4: upper case, lower case, digits, other
    username_min_match: int = 3  # shorter user names are not looked for in the password
    max_age_days: int = 90  # due for change this long after it was set (0: never)

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")
        if not 1 <= self.min_classes <= 4:
            raise ValueError("min_classes is between 1 and 4")
        if self.username_min_match < 1 or self.max_age_days < 0:
            raise ValueError("username_min_match is positive and max_age_days not negative")


DEFAULT_POLICY = PasswordPolicy()
CLASS_NAMES = ("upper case letters", "lower case letters", "digits", "other characters")


def classes_of(password: str) -> tuple[bool, bool, bool, bool]:
    """Which of the 4 classes the password uses: upper, lower, digit, other."""
    upper = lower = digit = other = False
    for c in password:
        if c.isupper():
            upper = True
        elif c.islower():
            lower = True
        elif c.isdigit():
            digit = True
        else:
            other = True
    return upper, lower, digit, other


def _username_problems(password: str, username: str, policy: PasswordPolicy) -> list[str]:
    name = username.strip().casefold()
    if len(name) < policy.username_min_match:
        return []
    folded = password.casefold()
    if name in folded:
        return ["must not contain the user name"]
    if name[::-1] in folded:
        return ["must not contain the user name reversed"]
    return []


def problems(password: str, username: str, policy: PasswordPolicy = DEFAULT_POLICY) -> list[str]:
    """Each rule ``password`` breaks, in words for the person choosing it (empty: acceptable)."""
    out: list[str] = []
    if len(password) < policy.min_length:
        out.append(f"must be at least {policy.min_length} characters long")
    if len(password) > policy.max_length:
        out.append(f"must be at most {policy.max_length} characters long")
    used = classes_of(password)
    if sum(used) < policy.min_classes:
        missing = ", ".join(name for name, has in zip(CLASS_NAMES, used, strict=True) if not has)
        out.append(
            f"must mix at least {policy.min_classes} of upper case letters, lower case "
            f"letters, digits and other characters (missing: {missing})"
        )
    out += _username_problems(password, username, policy)
    if password.casefold() in COMMON_PASSWORDS:
        out.append("is too common")
    return out


def change_due(
    changed_at: datetime, now: datetime, policy: PasswordPolicy = DEFAULT_POLICY
) -> bool:
    """Whether a password set at ``changed_at`` must be changed before going on (定期更换)."""
    if policy.max_age_days == 0:
        return False
    return now >= changed_at + timedelta(days=policy.max_age_days)


# --- keeping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a log-in learns from a stored hash: whether the password matches, and whether
    the hash should be replaced by one made with the current parameters."""

    ok: bool
    rehash: bool = False


class Hasher:
    """argon2id hashing with one set of parameters (RFC 9106 low-memory by default)."""

    def __init__(self, parameters: Parameters = profiles.RFC_9106_LOW_MEMORY) -> None:
        if parameters.type is not Type.ID:
            raise ValueError("passwords are hashed with argon2id")
        self.parameters = parameters
        self._hasher = PasswordHasher.from_parameters(parameters)

    @classmethod
    def cheap(cls) -> Hasher:
        """The cheapest argon2id parameters: for tests only (about 0.05 ms a hash)."""
        return cls(profiles.CHEAPEST)

    def hash(self, password: str) -> str:
        """A PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) with a fresh salt."""
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> Verdict:
        """Whether ``password`` matches ``stored``; never raises, for a wrong password or a
        stored value that is not an argon2 hash at all (both are simply not ``ok``)."""
        try:
            self._hasher.verify(stored, password)
        except (Argon2Error, InvalidHashError, ValueError, TypeError):
            return Verdict(ok=False)
        return Verdict(ok=True, rehash=self._hasher.check_needs_rehash(stored))

    @cached_property
    def _decoy(self) -> str:
        return self.hash("decoy password, never anyone's")

    def verify_decoy(self, password: str) -> Verdict:
        """Spend a verification's time on an unknown account, so that the time of a refusal
        does not tell which accounts exist. Always not ``ok``."""
        self.verify(self._decoy, password)
        return Verdict(ok=False)
