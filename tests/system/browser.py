"""What the browser tests share: Debian's Chromium driven by Playwright, a page that fails the
test on a script error or a request leaving the gateway, one operator per role, and helpers
to sign in, call the API and wait for a details tab. The fixtures are registered for every
system test module by tests/system/conftest.py."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from deploy.local.kafka import REPO_ROOT
from tests.system.conftest import System, eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "console"
ROLES = ("operator", "support", "viewer")


def password_of(role: str) -> str:
    # Operator passwords may not contain the username (here, the role).
    return f"{role[::-1]}-console-passphrase"


@pytest.fixture(scope="module")
def operators(system: System) -> Iterator[None]:
    """One operator per role besides the admin, created through the API."""
    with httpx.Client(
        base_url=system.gateway, headers={"Authorization": f"Bearer {system.token}"}
    ) as client:
        for role in ROLES:
            response = client.post(
                "/api/v1/operators",
                json={"username": role, "password": password_of(role), "role": role},
            )
            assert response.status_code in (201, 409), response.text
    yield


# How long an assertion waits for the page: Playwright's 5 s default is too short for a details
# page composed from four services on two cores that also run Kafka and five Python processes.
expect.set_options(timeout=20_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    async with async_playwright() as playwright:
        # Root in a container has no user namespaces for Chromium's sandbox.
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, system: System) -> AsyncIterator[Page]:
    """A fresh page; a script error or a request leaving the gateway fails the test."""
    context = await browser.new_context(
        base_url=system.gateway, viewport={"width": 1400, "height": 900}
    )
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((system.gateway, "data:"))
            else errors.append(f"request outside the gateway: {request.url}")
        ),
    )
    try:
        yield tab
    finally:
        await context.close()
    assert errors == []


async def shot(page: Page, system: System, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{system.backend}-{name}.png", full_page=True)


async def sign_in(page: Page, username: str, password: str) -> None:
    await page.goto("/")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    await expect(page.locator("#who")).to_contain_text(username)


async def api(system: System, method: str, path: str, body: Any = None) -> Any:
    async with system.client() as client:
        response = await client.request(method, f"/api/v1{path}", json=body)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


async def active_customer(system: System, last_name: str) -> dict[str, Any]:
    """A customer sold through the API, once billing has opened the subscription."""
    created = await api(
        system,
        "POST",
        "/customers",
        {
            "webshop_id": "shop-eu",
            "product_id": "basic",
            "plan_id": "basic-1m",
            "extra_product_ids": [],
            "info": {"first_name": "Grace", "last_name": last_name, "email": "g@example.com"},
            "credentials": None,
        },
    )
    return await wait_active(system, created["id"])


async def wait_active(system: System, customer_id: str) -> dict[str, Any]:
    async def active() -> dict[str, Any] | None:
        details: dict[str, Any] = await api(system, "GET", f"/customers/{customer_id}")
        return details if details["status"] == "active" else None

    return await eventually(active, timeout=60, what="the customer to turn active")


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


def row_of(page: Page, text: str) -> Locator:
    return page.get_by_role("row").filter(has_text=text)


TABS = {
    "Customer Info": "info",
    "Subscription": "subscription",
    "Account": "account",
    "Tickets": "tickets",
    "Devices": "devices",
    "Profiles": "profiles",
    "Favorites": "favorites",
    "Watchlist": "watchlist",
    "Recordings": "recordings",
    "Transactions": "transactions",
    "Messages": "messages",
    "History": "history",
}


async def open_tab(page: Page, name: str) -> Locator:
    """Clicks the tab and waits until its panel has loaded; a panel that failed fails here,
    with the error the console shows."""
    await page.get_by_role("tab", name=name, exact=True).click()
    return await loaded_tab(page, TABS[name])


async def loaded_tab(page: Page, key: str) -> Locator:
    panel = page.locator(f"section[role=tabpanel][data-tab={key}][data-state]")
    await expect(panel).to_have_count(1)
    if await panel.get_attribute("data-state") != "ready":
        raise AssertionError(f"the {key} tab failed: {await panel.inner_text()}")
    return panel
