"""The web console in a real browser (Debian's Chromium, headless, driven by Playwright) against
the whole system on real Kafka: the operator's, support's and viewer's journeys.

Screenshots of each journey are kept under test-artifacts/console/.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from tests.system.accessibility import assert_accessible
from tests.system.browser import (
    TABS,
    active_customer,
    api,
    loaded_tab,
    open_tab,
    password_of,
    row_of,
    shot,
    sign_in,
    unique,
    wait_active,
)
from tests.system.conftest import System, eventually


async def test_operator_adds_a_customer_with_generated_credentials_finds_renews_and_changes(
    system: System, operators: None, page: Page
) -> None:
    last_name = unique("Lovelace")
    await sign_in(page, "operator", password_of("operator"))

    await page.get_by_role("button", name="Add customer").click()
    form = page.get_by_role("dialog", name="Add customer")
    await form.locator("select[name=webshop_id]").select_option("shop-eu")
    await form.locator("select[name=product_id]").select_option("basic")
    await form.locator("select[name=plan_id]").select_option("basic-1m")
    await form.locator("input[name=extra][value=hbo]").check()
    await form.locator("input[name=first_name]").fill("Ada")
    await form.locator("input[name=last_name]").fill(last_name)
    await form.locator("input[name=email]").fill("ada@example.com")
    # The Authentication switch stays off: login and password are generated.
    await expect(form.locator("input[name=login]")).to_be_hidden()
    await assert_accessible(page, "the Add customer dialog")
    await shot(page, system, "add-customer")
    await form.get_by_role("button", name="Save").click()

    added = page.get_by_role("dialog", name="Customer added")
    login = await added.locator("[data-secret=login]").inner_text()
    password = await added.locator("[data-secret=password]").inner_text()
    assert login.isdigit() and password.isdigit()
    # The password is shown once: the dialog opens on Copy, and neither Escape nor Enter
    # closes it before the operator says they have it.
    await expect(added.get_by_role("button", name="Copy")).to_be_focused()
    await page.keyboard.press("Escape")
    await page.keyboard.press("Enter")
    await expect(added).to_be_visible()
    await expect(added.locator("[data-secret=password]")).to_have_text(password)
    # Billing opens the subscription a moment later; the dialog follows the status.
    await expect(added.locator(".badge")).to_have_text("active")
    await assert_accessible(page, "the Customer added dialog")
    await shot(page, system, "customer-added")
    await added.get_by_role("button", name="I have noted it").click()
    await expect(added).to_have_count(0)
    # The list behind was refreshed and shows the new customer as active, as the dialog did.
    await expect(row_of(page, last_name)).to_contain_text("active")

    # Find them: search by name once billing has made them active.
    page_of = await api(system, "GET", f"/customers?q={last_name}&status_group=inactive")
    customer_id = page_of["items"][0]["id"] if page_of["items"] else None
    if customer_id is None:
        found = await api(system, "GET", f"/customers?q={last_name}")
        customer_id = found["items"][0]["id"]
    before = await wait_active(system, customer_id)
    await page.locator("input[name=q]").fill(last_name)
    await page.get_by_role("button", name="Search").click()
    row = row_of(page, last_name)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(login)
    await expect(row).to_contain_text("active")
    await shot(page, system, "customers")

    await row.get_by_role("button", name="Renew").click()
    renew = page.get_by_role("dialog", name=f"Renew Ada {last_name}")
    await renew.get_by_role("button", name="Renew").click()
    await expect(page.locator("#flash")).to_contain_text("Renewed")

    async def renewed() -> dict[str, Any] | None:
        now: dict[str, Any] = await api(system, "GET", f"/customers/{customer_id}")
        later = now["subscription"]["expires_at"] > before["subscription"]["expires_at"]
        return now if later else None

    await eventually(renewed, what="the renewal in the customer's summary")

    await page.get_by_role("button", name="Search").click()
    await row_of(page, last_name).get_by_role("button", name="Change").click()
    change = page.get_by_role("dialog", name=f"Change Ada {last_name}'s subscription")
    await change.locator("select[name=product_id]").select_option("premium")
    await change.locator("select[name=plan_id]").select_option("premium-1m")
    await change.locator("select[name=starts]").select_option("now")
    await change.get_by_role("button", name="Change").click()
    await expect(page.locator("#flash")).to_contain_text("Changed")

    async def changed() -> dict[str, Any] | None:
        now: dict[str, Any] = await api(system, "GET", f"/customers/{customer_id}")
        return now if now["subscription"]["product_id"] == "premium" else None

    await eventually(changed, what="the change in the customer's summary")

    # The filtered list as a file.
    await page.locator("input[name=q]").fill(last_name)
    await page.get_by_role("button", name="Search").click()
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    exported = (await download.path()).read_text(encoding="utf-8")
    assert last_name in exported and login in exported


async def test_every_tab_of_the_details_opens_without_an_error(
    system: System, operators: None, page: Page
) -> None:
    customer = await active_customer(system, unique("Hopper"))
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#/customers/{customer['id']}/info")
    await expect(page.get_by_role("heading", name="Grace")).to_be_visible()

    for name in TABS:
        panel = await open_tab(page, name)
        await expect(panel.locator(".error-text")).to_have_count(0)
        await assert_accessible(page, f"the {name} tab")
        if name == "Subscription":
            await expect(panel).to_contain_text("Basic TV")
            await shot(page, system, "details-subscription")
        if name == "Transactions":
            await expect(panel).to_contain_text("EUR")

    # Two of the writes the tabs offer: edit the customer, set the expiry.
    panel = await open_tab(page, "Customer Info")
    await panel.locator("input[name=city]").fill("Brno")
    await panel.get_by_role("button", name="Save").click()
    await expect(page.locator("#flash")).to_contain_text("Saved.")
    edited = await api(system, "GET", f"/customers/{customer['id']}")
    assert edited["info"]["city"] == "Brno"

    panel = await open_tab(page, "Subscription")
    await panel.get_by_role("button", name="Extend expiry").click()
    extend = page.get_by_role("dialog", name="Extend expiry")
    await extend.locator("input[name=expires_on]").fill("2031-06-30")
    await extend.locator("input[name=reason]").fill("goodwill after an outage")
    await assert_accessible(page, "the Extend expiry dialog")
    await extend.get_by_role("button", name="Save").click()
    await expect(page.locator("#flash")).to_contain_text("Expiry set.")
    await expect(await loaded_tab(page, "subscription")).to_contain_text("2031-06-30 23:59 UTC")


async def test_support_sends_a_message_and_answers_a_ticket(
    system: System, operators: None, page: Page
) -> None:
    customer = await active_customer(system, unique("Turing"))
    path = f"/customers/{customer['id']}"
    ticket = await api(
        system, "POST", f"{path}/tickets", {"subject": "No picture", "description": "Black screen"}
    )
    await sign_in(page, "support", password_of("support"))
    await page.goto(f"/#{path}/messages")
    panel = await loaded_tab(page, "messages")

    await panel.get_by_role("button", name="Send message").click()
    send = page.get_by_role("dialog", name="Send message")
    await send.locator("input[name=message_title]").fill("Maintenance tonight")
    await send.locator("textarea[name=message_body]").fill("Service pauses 02:00-03:00 UTC.")
    await assert_accessible(page, "the Send message dialog")
    await send.get_by_role("button", name="Send").click()
    await expect(panel.get_by_role("row").filter(has_text="Maintenance tonight")).to_have_count(1)

    panel = await open_tab(page, "Tickets")
    await row_of(page, "No picture").get_by_role("button", name="Open").click()
    await panel.get_by_role("textbox", name="Reply").fill("Please restart the box.")
    await panel.get_by_role("button", name="Send reply").click()
    await expect(
        panel.locator(".bubble.operator").filter(has_text="Please restart the box.")
    ).to_have_count(1)
    await panel.get_by_role("combobox", name="Ticket status").select_option("pending")
    await expect(page.locator("#flash")).to_contain_text("Status changed")
    await assert_accessible(page, "an open ticket")
    await shot(page, system, "ticket")

    answered = await api(system, "GET", f"{path}/tickets/{ticket['id']}")
    assert answered["status"] == "pending"
    assert any(m["body"] == "Please restart the box." for m in answered["messages"])


async def test_operator_unbinds_a_device(system: System, operators: None, page: Page) -> None:
    customer = await active_customer(system, unique("Hamilton"))
    path = f"/customers/{customer['id']}"
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/apps/stb",
        "type": "device.connected.v1",
        "time": datetime.now(UTC).isoformat(),
        "subject": customer["id"],
        "data": {
            "customer_id": customer["id"],
            "device_id": "stb-console-1",
            "kind": "stb",
            "model": "X1 4K",
            "connected_at": datetime.now(UTC).isoformat(),
        },
    }
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topic("apps.events"), json.dumps(event).encode(), key=customer["id"].encode()
        )
    finally:
        await producer.stop()

    async def bound() -> list[dict[str, Any]] | None:
        devices: list[dict[str, Any]] = (await api(system, "GET", f"{path}/devices"))["items"]
        return devices or None

    await eventually(bound, what="the device to be bound")
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#{path}/devices")
    panel = await loaded_tab(page, "devices")
    await row_of(page, "stb-console-1").get_by_role("button", name="Unbind").click()
    await assert_accessible(page, "the Unbind dialog")
    await page.get_by_role("dialog", name="Unbind").get_by_role("button", name="Unbind").click()
    await expect(panel).to_contain_text("No devices.")
    assert (await api(system, "GET", f"{path}/devices"))["items"] == []


async def test_viewer_sees_everything_and_is_offered_no_write(
    system: System, operators: None, page: Page
) -> None:
    customer = await active_customer(system, unique("Noether"))
    await sign_in(page, "viewer", password_of("viewer"))
    await page.locator("input[name=q]").fill(customer["info"]["last_name"])
    await page.get_by_role("button", name="Search").click()
    row = row_of(page, customer["info"]["last_name"])
    await expect(row).to_have_count(1)
    await expect(page.get_by_role("button", name="Add customer")).to_have_count(0)
    await expect(row.get_by_role("button", name="Renew")).to_have_count(0)
    await expect(row.get_by_role("button", name="Change")).to_have_count(0)

    await row.get_by_role("link", name="Details").click()
    await expect(page.get_by_role("heading", name="Grace")).to_be_visible()
    writes = (
        "Save",
        "Erase customer",
        "Renew",
        "Change",
        "Extend expiry",
        "Cancel subscription",
        "Disable account",
        "Reset password",
        "New ticket",
        "Unbind",
        "Add profile",
        "Send message",
    )
    for name in TABS:
        panel = await open_tab(page, name)
        await expect(panel.locator(".error-text")).to_have_count(0)
        for action in writes:
            await expect(panel.get_by_role("button", name=action, exact=True)).to_have_count(0)
        await assert_accessible(page, f"the viewer's {name} tab")
    await shot(page, system, "viewer")

    # Not offered, and refused if tried anyway.
    async with httpx.AsyncClient(base_url=system.gateway) as client:
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={"username": "viewer", "password": password_of("viewer")},
            )
        ).json()["access_token"]
        refused = await client.post(
            f"/api/v1/customers/{customer['id']}/subscription/renew",
            json={"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert refused.status_code == 403


async def test_dashboard_shows_the_stats_as_charts(
    system: System, operators: None, page: Page
) -> None:
    await active_customer(system, unique("Lamarr"))
    await sign_in(page, "admin", "system-test-admin-pw")
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    for title in ("Customers by status", "New customers per day", "Consumer lag", "Subscriptions"):
        section = page.get_by_role("region", name=title)
        await expect(section.locator("svg.chart")).to_have_count(1)
    # The subscription figures come from one source and add up.
    billing = (await api(system, "GET", "/stats"))["billing"]["data"]
    by_status = billing["subscriptions_by_status"]
    running = by_status.get("active", 0) + by_status.get("trial", 0)
    assert running == billing["active_subscriptions"] >= 1
    section = page.get_by_role("region", name="Subscriptions")
    await expect(section.locator("[data-figure=running-subscriptions]")).to_have_text(str(running))
    await expect(section).to_contain_text(
        f"running ({by_status.get('trial', 0)} trial, {by_status.get('active', 0)} paid)"
    )
    for key in ("expiring-soon", "trial-conversion", "churn"):
        await expect(section.locator(f"[data-figure={key}]")).to_have_count(1)
    await assert_accessible(page, "the dashboard")
    await shot(page, system, "dashboard")


async def test_admin_adds_an_operator_and_finds_it_in_the_audit_log(
    system: System, operators: None, page: Page
) -> None:
    username = unique("clerk")
    await sign_in(page, "admin", "system-test-admin-pw")
    await page.get_by_role("link", name="Operators").click()
    await page.get_by_role("button", name="Add operator").click()
    add = page.get_by_role("dialog", name="Add operator")
    await add.locator("input[name=new_username]").fill(username)
    await add.locator("input[name=new_password]").fill("clerk-password-1")
    await add.locator("select[name=role]").select_option("support")
    await assert_accessible(page, "the Add operator dialog")
    await add.get_by_role("button", name="Save").click()
    await expect(row_of(page, username)).to_contain_text("support")
    await assert_accessible(page, "the Operators page")

    # A new API key is shown once, in a dialog that opens on Copy and ignores Escape.
    await page.get_by_role("button", name="Create API key").click()
    create = page.get_by_role("dialog", name="Create API key")
    await create.locator("input[name=key_name]").fill(unique("dashboard-"))
    await create.get_by_role("button", name="Save").click()
    created = page.get_by_role("dialog", name="API key created")
    await expect(created.get_by_role("button", name="Copy")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(created.locator("[data-secret=api-key]")).not_to_be_empty()
    await assert_accessible(page, "the API key created dialog")
    await created.get_by_role("button", name="I have noted it").click()
    await expect(created).to_have_count(0)

    await page.get_by_role("link", name="Audit").click()
    await expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    await expect(
        page.get_by_role("row").filter(has_text="operator.create").filter(has_text="admin").first
    ).to_be_visible()
    await assert_accessible(page, "the Audit page")
    await shot(page, system, "audit")


async def test_operator_is_not_offered_the_admin_pages(
    system: System, operators: None, page: Page
) -> None:
    await sign_in(page, "operator", password_of("operator"))
    await expect(page.get_by_role("link", name="Dashboard")).to_be_visible()
    await expect(page.get_by_role("link", name="Operators")).to_be_hidden()
    await expect(page.get_by_role("link", name="Audit")).to_be_hidden()


async def test_an_expired_access_token_is_refreshed_without_signing_in_again(
    system: System, operators: None, page: Page
) -> None:
    await sign_in(page, "operator", password_of("operator"))
    # As if the access token had expired: the next call gets 401 and the console refreshes.
    await page.evaluate("sessionStorage.setItem('tvcm.access', 'expired')")
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    token = await page.evaluate("sessionStorage.getItem('tvcm.access')")
    assert token != "expired"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await assert_accessible(page, "the sign-in page")
    await page.locator("input[name=username]").fill("operator")
    await page.locator("input[name=password]").fill("wrong-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(
        page.get_by_role("alert").filter(has_text="wrong username or password")
    ).to_be_visible()
    await assert_accessible(page, "a refused sign-in")


async def test_the_api_docs_render_from_the_gateway_alone_under_the_consoles_csp(
    system: System, page: Page
) -> None:
    """Swagger UI at /docs: every file from the gateway (the page fixture fails on any other
    request), no inline script, and no Content-Security-Policy violation while it renders."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    answer = await page.goto("/docs")
    assert answer is not None and answer.ok
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    await expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    await expect(page.get_by_text("/api/v1/customers").first).to_be_visible()
    assert violations == []
