"""axe-core in the browser tests: the vendored axe.min.js is evaluated in the page (the console
never loads it) and every rule runs, best practices included; any violation fails the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).parent / "axe" / "axe.min.js"


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')!s:.300}")
    return "\n".join(lines)


async def assert_accessible(page: Page, what: str) -> None:
    """Runs axe on the whole document as it is now (an open dialog included)."""
    # Evaluated through the DevTools protocol, so the console's Content-Security-Policy,
    # which allows only the gateway's own scripts, stays as strict as in production.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    results = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    violations: list[dict[str, Any]] = results["violations"]
    assert not violations, f"axe found on {what}:\n{_describe(violations)}"
