"""Swagger UI's "Try it out" calls the service under its prefix (issue 17): each OpenAPI
document's ``servers`` is the gateway prefix, and Swagger UI resolves that relative URL
against the document's address. Also: ``/<svc>/docs/`` (with the slash) leads to the page."""

from __future__ import annotations

from typing import Any


def test_try_it_out_keeps_the_prefix(chromium: Any, site: str) -> None:
    page = chromium.new_page()
    try:
        page.goto(f"{site}/intake/docs/")  # the slash form: redirected to /intake/docs
        assert page.url == f"{site}/intake/docs"
        summary = page.locator('.opblock-get [data-path="/api/v1/demands"]').first
        summary.click()
        block = page.locator(".opblock.is-open")
        block.locator(".try-out__btn").click()
        block.locator(".execute").click()
        url = block.locator(".request-url pre").inner_text(timeout=10_000)
        assert url.startswith(f"{site}/intake/api/v1/demands"), url
        # the service answered (401: no key given), not the console's 404 page
        assert (
            block.locator(".live-responses-table tbody .response-col_status")
            .first.inner_text(timeout=10_000)
            .strip()
            .startswith("401")
        )
    finally:
        page.close()
