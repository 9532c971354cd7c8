"""What people's authentication costs: a token verified on every request, a log-in now and then.

Prints one JSON report (figures only, nothing asserted):

* ``token_verify_us``: ``shared.tokens.verify`` of one ES256 access token with its key
  already imported (the steady state of every service), median and p99 of N timed calls;
  ``first_verify_us``: the first verification under a new ``kid`` (the key imported once);
  ``token_issue_us``: signing one.
* the baselines, timed the same way side by side: ``api_key_verify_us``, what a request
  costs the platform today (split the key, SHA-256 of its secret, ``hmac.compare_digest``),
  and ``bare_flask_request_us``, a bare Flask ``POST`` with a JSON body through the test
  client (``bench/bare_app.py``); ``ratios`` puts the token's median against both.
* ``login_ms``: argon2id verification of a password with the default profile (RFC 9106
  low memory) — the cost a log-in adds — median and max of ``--logins`` runs.

Usage: ``python -m bench.auth_bench [--verifications 20000] [--logins 20]``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any

from bench.bare_app import create_app
from services.directory.passwords import Hasher
from shared.auth import new_key, secret_digest, split_token
from shared.tokens import issue, keys_of, new_signing_key, public_jwks, verify

ISS = "https://onestop.example/directory"
AUD = "onestop"
CLAIMS = {"sub": "person:42", "roles": ["station_staff"], "unit": "630102-S0001"}


def timed(fn: Callable[[], object], n: int, warmup: int = 200) -> list[float]:
    """Per-call wall times in µs (``perf_counter_ns`` around each call)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def summary(samples: list[float], digits: int = 1) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), digits),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], digits),
    }


def token_figures(n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    key = new_signing_key(now)
    previous = new_signing_key(now - timedelta(days=30))  # two published, as in a rotation
    published = keys_of(public_jwks([previous, key]))
    token = issue(key, CLAIMS, now, 600, ISS, AUD)
    verify_us = timed(lambda: verify(token, published, now, ISS, AUD), n)
    issue_us = timed(lambda: issue(key, CLAIMS, now, 600, ISS, AUD), max(n // 10, 100))
    firsts = []
    for _ in range(100):
        fresh = new_signing_key(now)
        fresh_token = issue(fresh, CLAIMS, now, 600, ISS, AUD)
        keys = {fresh.kid: fresh.public_jwk}
        start = time.perf_counter_ns()
        verify(fresh_token, keys, now, ISS, AUD)
        firsts.append((time.perf_counter_ns() - start) / 1000)
    return {
        "token_bytes": len(token),
        "token_verify_us": summary(verify_us),
        "first_verify_us": summary(firsts),
        "token_issue_us": summary(issue_us),
    }


def api_key_figures(n: int) -> dict[str, Any]:
    """Today's check of ``Authorization: Bearer osk_…`` once the key's row is in memory."""
    key_id, digest, key = new_key()
    stored = {key_id: digest}

    def check() -> bool:
        parts = split_token(key)
        assert parts is not None
        return hmac.compare_digest(stored[parts[0]], secret_digest(parts[1]))

    return {"api_key_verify_us": summary(timed(check, n), digits=2)}


def flask_figures(n: int) -> dict[str, Any]:
    client = create_app().test_client()
    body = {"title": "正极材料烧结工艺改进"}

    def request() -> None:
        assert client.post("/api/v1/demands", json=body).status_code == 201

    return {"bare_flask_request_us": summary(timed(request, n, warmup=100))}


def login_figures(n: int) -> dict[str, Any]:
    hasher = Hasher()
    stored = hasher.hash("Tsinghai-Lake7")
    runs = []
    for _ in range(n):
        start = time.perf_counter()
        assert hasher.verify(stored, "Tsinghai-Lake7").ok
        runs.append((time.perf_counter() - start) * 1000)
    p = hasher.parameters
    return {
        "login_ms": {
            "profile": f"argon2id t={p.time_cost} m={p.memory_cost // 1024}MiB p={p.parallelism}",
            "n": n,
            "median": round(statistics.median(runs), 1),
            "max": round(max(runs), 1),
        }
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verifications", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=5_000)
    ap.add_argument("--logins", type=int, default=20)
    args = ap.parse_args()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}",
        "versions": {p: metadata.version(p) for p in ("joserfc", "cryptography", "argon2-cffi")},
    }
    report |= token_figures(args.verifications)
    report |= api_key_figures(args.verifications)
    report |= flask_figures(args.requests)
    token = report["token_verify_us"]["median"]
    report["ratios"] = {
        "token_verify_over_api_key_verify": round(token / report["api_key_verify_us"]["median"], 1),
        "token_verify_over_bare_flask_request": round(
            token / report["bare_flask_request_us"]["median"], 3
        ),
        "token_verify_p99_ms": round(report["token_verify_us"]["p99"] / 1000, 3),
    }
    report |= login_figures(args.logins)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
