"""The console's pages beyond the customers (catalog, bulk add, the tickets queue, a login
change) and its keyboard behaviour, in Debian's Chromium against the whole system on real
Kafka; axe-core checks every page and dialog on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Page, expect

from tests.system.accessibility import assert_accessible
from tests.system.browser import (
    active_customer,
    api,
    loaded_tab,
    password_of,
    row_of,
    shot,
    sign_in,
    unique,
)
from tests.system.conftest import ADMIN_PASSWORD, System, eventually


async def test_keyboard_alone_keeps_focus_across_redraws(
    system: System, operators: None, page: Page
) -> None:
    customer = await active_customer(system, unique("Keyboard"))
    last_name = customer["info"]["last_name"]
    await sign_in(page, "operator", password_of("operator"))
    await assert_accessible(page, "the Customers page")
    await page.locator("input[name=q]").fill(last_name)
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#customers-panel[data-query='q={last_name}']")).to_have_count(1)
    row = row_of(page, last_name)
    await expect(row).to_have_count(1)
    # The search field keeps the focus after the list is drawn again.
    await expect(page.locator("input[name=q]")).to_be_focused()

    # Arrow keys on a select move through its options without reloading; Enter applies.
    status = page.locator("select[name=status]")
    await status.focus()
    before = page.url
    await page.keyboard.press("ArrowDown")
    await page.wait_for_timeout(300)
    assert page.url == before
    await page.keyboard.press("Enter")
    applied = f"q={last_name}&status=trial"
    await expect(page.locator(f"#customers-panel[data-query='{applied}']")).to_have_count(1)
    await expect(page.locator("select[name=status]")).to_be_focused()

    # Tabs: the WAI-ARIA pattern (one Tab stop, arrows move, Enter opens, focus stays on it).
    await page.locator("select[name=status]").select_option("")
    await expect(row_of(page, last_name)).to_have_count(1)
    await row_of(page, last_name).get_by_role("link", name="Details").focus()
    await page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name=last_name)
    await expect(heading).to_be_focused()
    info_tab = page.get_by_role("tab", name="Customer Info")
    await expect(info_tab).to_have_attribute("tabindex", "0")
    await expect(page.get_by_role("tab", name="Account")).to_have_attribute("tabindex", "-1")
    await info_tab.focus()
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("ArrowRight")
    account_tab = page.get_by_role("tab", name="Account")
    await expect(account_tab).to_be_focused()
    await page.keyboard.press("Enter")
    panel = await loaded_tab(page, "account")
    await expect(page.get_by_role("tab", name="Account")).to_be_focused()
    await expect(page.get_by_role("tab", name="Account")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("End")
    await expect(page.get_by_role("tab", name="History")).to_be_focused()

    # A login change in Account, by keyboard: the dialog returns focus to its button.
    new_login = unique("login-")
    await panel.get_by_role("button", name="Change login").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Change login")
    await assert_accessible(page, "the Change login dialog")
    await dialog.locator("input[name=new_login]").fill(new_login)
    await page.keyboard.press("Enter")
    await expect(page.locator("#flash")).to_contain_text("Login changed.")
    await expect(await loaded_tab(page, "account")).to_contain_text(new_login)
    await expect(page.get_by_role("button", name="Change login")).to_be_focused()
    account = await api(system, "GET", f"/customers/{customer['id']}/account")
    assert account["login"] == new_login

    # A taken login is refused with the reason, and nothing changes.
    await page.get_by_role("button", name="Change login").click()
    dialog = page.get_by_role("dialog", name="Change login")
    other = await active_customer(system, unique("Other"))
    await dialog.locator("input[name=new_login]").fill(other["login"])
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("alert")).not_to_be_empty()
    await dialog.get_by_role("button", name="Cancel").click()


async def test_admin_edits_the_catalog_and_archives(
    system: System, operators: None, page: Page
) -> None:
    shop_id, product_id = unique("shop-"), unique("sport")
    await sign_in(page, "admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="Catalog").click()
    await expect(page.get_by_role("heading", name="Catalog", exact=True)).to_be_visible()
    await assert_accessible(page, "the Catalog page")

    await page.get_by_role("button", name="Add webshop").click()
    add = page.get_by_role("dialog", name="Add webshop")
    await add.locator("input[name=webshop_id]").fill(shop_id)
    await add.locator("input[name=webshop_name]").fill("Shop for tests")
    await add.locator("input[name=currencies]").fill("CZK, EUR")
    await add.locator("input[name=offers][value=basic]").check()
    await assert_accessible(page, "the Add webshop dialog")
    await add.get_by_role("button", name="Save").click()
    await expect(row_of(page, shop_id)).to_contain_text("CZK, EUR")

    await page.get_by_role("button", name="Add extra product").click()
    add = page.get_by_role("dialog", name="Add extra product")
    await add.locator("input[name=product_id]").fill(product_id)
    await add.locator("input[name=product_name]").fill("Sport pack")
    await add.locator("input[name=max_devices]").fill("0")
    await add.locator("input[name=plan_id]").fill(f"{product_id}-1m")
    await add.locator("input[name=plan_name]").fill("1 month")
    await add.locator("input[name=prices]").fill("4.99 EUR, 120 CZK")
    await assert_accessible(page, "the Add extra product dialog")
    await add.get_by_role("button", name="Save").click()
    product = page.get_by_role("article", name="Sport pack")
    await expect(product.get_by_role("row").filter(has_text="120 CZK")).to_have_count(1)

    await product.get_by_role("button", name="Add plan").click()
    add = page.get_by_role("dialog", name="Add a plan to Sport pack")
    await add.locator("input[name=plan_id]").fill(f"{product_id}-1y")
    await add.locator("input[name=plan_name]").fill("1 year")
    await add.locator("select[name=plan_unit]").select_option("years")
    await add.locator("input[name=prices]").fill("49 EUR")
    await add.get_by_role("button", name="Save").click()
    year = product.get_by_role("row").filter(has_text="1 year")
    await expect(year).to_contain_text("49")

    await year.get_by_role("button", name="Archive").click()
    archive = page.get_by_role("dialog", name="Archive plan")
    await assert_accessible(page, "the Archive dialog")
    await archive.get_by_role("button", name="Archive").click()
    await expect(product.get_by_role("row").filter(has_text="1 year")).to_have_count(0)
    await page.get_by_label("Show archived webshops, products and plans").check()
    await expect(
        page.get_by_role("article", name="Sport pack").get_by_role("row").filter(has_text="1 year")
    ).to_contain_text("archived")
    await shot(page, system, "catalog")

    stored = await api(system, "GET", f"/products/{product_id}")
    plans = {p["id"]: p for p in stored["plans"]}
    assert plans[f"{product_id}-1y"]["archived"] is True
    assert plans[f"{product_id}-1m"]["prices"] == {"EUR": "4.99", "CZK": "120.00"} or plans[
        f"{product_id}-1m"
    ]["prices"] == {"EUR": "4.99", "CZK": "120"}
    shops = {w["id"]: w for w in (await api(system, "GET", "/webshops"))["items"]}
    assert shops[shop_id]["currencies"] == ["CZK", "EUR"]


async def test_operator_runs_a_bulk_add_and_collects_the_credentials_once(
    system: System, operators: None, page: Page
) -> None:
    hotel = unique("Hotel ")
    await sign_in(page, "operator", password_of("operator"))
    await page.get_by_role("link", name="Bulk add").click()
    await expect(page.get_by_role("heading", name="Bulk add")).to_be_visible()
    await assert_accessible(page, "the Bulk add page")
    await page.locator("select[name=webshop_id]").select_option("shop-eu")
    await page.locator("select[name=product_id]").select_option("basic")
    await page.locator("input[name=count]").fill("3")
    await page.locator("input[name=first_name]").fill(hotel)
    await page.locator("input[name=last_name_prefix]").fill("Room ")
    await page.get_by_role("button", name="Start job").click()

    progress = page.get_by_role("region", name="Progress")
    await expect(progress).to_have_attribute("data-job-status", "completed", timeout=60_000)
    await expect(progress.get_by_role("status")).to_contain_text("3 created, 0 failed, of 3")
    await assert_accessible(page, "a completed job")
    await progress.get_by_role("button", name="Collect credentials").click()
    credentials = page.get_by_role("dialog", name="Credentials")
    await expect(credentials.locator("[data-secret=password]")).to_have_count(3)
    await expect(credentials.get_by_role("button", name="Copy")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(credentials).to_be_visible()
    await assert_accessible(page, "the Credentials dialog")
    await shot(page, system, "bulk-add")
    await credentials.get_by_role("button", name="I have noted it").click()

    # Handed out once: a second collection shows none.
    await page.get_by_role("button", name="Collect credentials").click()
    again = page.get_by_role("dialog", name="Credentials")
    await expect(again).to_contain_text("Every password was collected before")
    await expect(again.locator("[data-secret=password]")).to_have_count(0)
    await again.get_by_role("button", name="I have noted it").click()

    async def created() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await api(system, "GET", f"/customers?q={hotel}"))["items"]
        return found if len(found) == 3 else None

    await eventually(created, what="the three customers in the list")


async def test_support_works_the_tickets_queue(system: System, operators: None, page: Page) -> None:
    customer = await active_customer(system, unique("Queue"))
    subject = unique("Frozen picture ")
    ticket = await api(system, "POST", f"/customers/{customer['id']}/tickets", {"subject": subject})
    await sign_in(page, "support", password_of("support"))
    await page.get_by_role("link", name="Tickets").click()
    await expect(page.get_by_role("heading", name="Tickets")).to_be_visible()
    await page.locator("select[name=assignee]").select_option("-")
    await expect(page.locator("[data-query='assignee=-']")).to_have_count(1)
    row = row_of(page, subject)
    await expect(row).to_contain_text("nobody")
    await assert_accessible(page, "the tickets queue")

    await row.get_by_role("button", name="Assign to me").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#flash")).to_contain_text("Assigned to support")
    # Unassigned only: the ticket left the list.
    await expect(row_of(page, subject)).to_have_count(0)
    await page.locator("select[name=assignee]").select_option("support")
    await expect(page.locator("[data-query='assignee=support']")).to_have_count(1)
    await expect(row_of(page, subject)).to_contain_text("support")

    await row_of(page, subject).get_by_role("button", name="Assign…").click()
    dialog = page.get_by_role("dialog", name=f"Assign “{subject}”")
    await dialog.locator("select[name=ticket_priority]").select_option("urgent")
    await dialog.locator("input[name=assignee_username]").fill("")
    await assert_accessible(page, "the Assign dialog")
    await dialog.get_by_role("button", name="Assign").click()
    await expect(page.locator("#flash")).to_contain_text("Unassigned.")
    await page.locator("select[name=assignee]").select_option("")
    await expect(page.locator("[data-query='']")).to_have_count(1)
    await page.locator("select[name=priority]").select_option("urgent")
    await expect(page.locator("[data-query='priority=urgent']")).to_have_count(1)
    await expect(row_of(page, subject)).to_contain_text("urgent")
    await shot(page, system, "tickets-queue")

    stored = await api(system, "GET", f"/customers/{customer['id']}/tickets/{ticket['id']}")
    assert stored["assignee"] is None and stored["priority"] == "urgent"


async def test_pages_reflow_on_a_phone(system: System, operators: None, page: Page) -> None:
    await active_customer(system, unique("Narrow"))
    await sign_in(page, "admin", ADMIN_PASSWORD)
    for width, route in ((1400, "audit"), (390, "customers"), (390, "audit"), (390, "catalog")):
        await page.set_viewport_size({"width": width, "height": 800})
        await page.goto(f"/#/{route}")
        await expect(page.locator("main h1")).to_be_visible()
        await page.wait_for_timeout(500)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"#/{route} at {width} px overflows by {overflow} px"
        if width == 390:
            await assert_accessible(page, f"#/{route} at 390 px")
    await shot(page, system, "phone-catalog")


async def test_operator_works_the_list_by_selection_and_column(
    system: System, operators: None, page: Page
) -> None:
    family = unique("Bulk")
    first = await active_customer(system, f"{family}A")
    second = await active_customer(system, f"{family}B")
    soon = (datetime.now(UTC) + timedelta(days=3, hours=1)).isoformat()
    await api(
        system,
        "PUT",
        f"/customers/{first['id']}/subscription/expiry",
        {"expires_at": soon, "reason": "test: expiring soon"},
    )
    await sign_in(page, "operator", password_of("operator"))

    # The Add customer form: countries from the ISO list, plans priced in the webshop's currency.
    await page.get_by_role("button", name="Add customer").click()
    add = page.get_by_role("dialog", name="Add customer")
    await add.locator("select[name=webshop_id]").select_option("shop-us")
    assert "10.99 USD" in await add.locator("select[name=plan_id] option").first.inner_text()
    await add.locator("select[name=webshop_id]").select_option("shop-eu")
    await add.locator("select[name=product_id]").select_option("basic")
    plan_label = await add.locator("select[name=plan_id] option").first.inner_text()
    assert "9.99 EUR" in plan_label and "USD" not in plan_label
    await add.locator("select[name=country]").select_option("CZ")
    await expect(add.locator("select[name=country] option:checked")).to_contain_text("Czech")
    # Required fields are marked (the asterisk is generated by the stylesheet).
    await expect(add.get_by_role("textbox", name="First name *", exact=True)).to_have_attribute(
        "required", ""
    )
    await expect(add.get_by_role("textbox", name="Phone", exact=True)).to_have_count(1)
    await add.get_by_role("button", name="Cancel").click()

    await page.locator("input[name=q]").fill(family)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(f"#customers-panel[data-query='q={family}']")).to_have_count(1)
    await expect(row_of(page, f"{family}A").locator("[data-days-left='3']")).to_contain_text(
        "3 days left"
    )
    await expect(row_of(page, f"{family}A").locator(".expiry.warning")).to_have_count(1)

    # Sorting by a column header: Name ascending, then descending.
    await page.get_by_role("button", name="Name", exact=True).click()
    await expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Name")
    names = await page.locator("tbody tr td[data-label=Name]").all_inner_texts()
    assert names == sorted(names, key=str.lower)
    await page.get_by_role("button", name="Name ▲").click()
    await expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
    await page.locator("select[name=size]").select_option("50")
    await expect(page.locator("#customers-panel[data-query*='size=50']")).to_have_count(1)

    # Bulk: select both, message them, renew them.
    await page.get_by_label("Select every customer on this page").check()
    await expect(page.get_by_role("group", name="Selected customers")).to_contain_text("2 selected")
    await page.get_by_role("button", name="Message selected").click()
    message = page.get_by_role("dialog", name="Message 2 customers")
    await message.locator("input[name=message_title]").fill("Planned maintenance")
    await message.locator("textarea[name=message_body]").fill("Tonight 2-3 am.")
    await assert_accessible(page, "the bulk message dialog")
    await message.get_by_role("button", name="Send").click()
    await expect(page.locator("#flash")).to_contain_text("Sent to 2 of 2.")
    for customer in (first, second):
        sent = await api(system, "GET", f"/customers/{customer['id']}/messages")
        assert [m["title"] for m in sent["items"]].count("Planned maintenance") == 1

    await page.get_by_label("Select every customer on this page").check()
    await page.get_by_role("button", name="Renew selected").click()
    await (
        page.get_by_role("dialog", name="Renew 2 customers")
        .get_by_role("button", name="Renew all")
        .click()
    )
    await expect(page.locator("#flash")).to_contain_text("Renewed 2 of 2.")

    async def renewed() -> bool:
        now = await api(system, "GET", f"/customers/{first['id']}")
        return bool(now["subscription"]["expires_at"] > soon)

    await eventually(renewed, what="the bulk renewal in the summary")

    await page.get_by_label(f"Select Grace {family}B").check()
    await page.get_by_role("button", name="Disable selected").click()
    await (
        page.get_by_role("dialog", name="Disable 1 customers")
        .get_by_role("button", name="Disable all")
        .click()
    )
    await expect(page.locator("#flash")).to_contain_text("Disabled 1 of 1.")
    account = await api(system, "GET", f"/customers/{second['id']}/account")
    assert account["disabled"] is True
    await shot(page, system, "customers-bulk")

    # An empty search offers the way back.
    await page.locator("input[name=q]").fill(unique("nobody"))
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("button", name="Clear search and filters").click()
    await expect(page.locator("#customers-panel[data-query='group=active']")).to_have_count(1)


async def test_a_trial_is_sold_once_unless_an_admin_overrides(
    system: System, operators: None, page: Page
) -> None:
    created = await api(
        system,
        "POST",
        "/customers",
        {
            "webshop_id": "shop-eu",
            "product_id": "trial",
            "plan_id": "trial-7d",
            "extra_product_ids": [],
            "info": {"first_name": "Grace", "last_name": unique("Trial")},
            "credentials": None,
        },
    )

    async def on_trial() -> bool:
        return bool((await api(system, "GET", f"/customers/{created['id']}"))["status"] == "trial")

    await eventually(on_trial, timeout=60, what="the trial to start")
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#/customers/{created['id']}/subscription")
    panel = await loaded_tab(page, "subscription")
    await panel.get_by_role("button", name="Renew").click()
    renew = page.get_by_role("dialog").filter(has_text="Renew")
    # Not offered to an operator; billing refuses the repeat, naming the product.
    await expect(renew.get_by_label("Sell this trial again")).to_be_hidden()
    await renew.get_by_role("button", name="Renew").click()
    await expect(renew.get_by_role("alert")).to_contain_text("already had the trial")
    await renew.get_by_role("button", name="Cancel").click()

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, "admin", ADMIN_PASSWORD)
    await page.goto(f"/#/customers/{created['id']}/subscription")
    panel = await loaded_tab(page, "subscription")
    await panel.get_by_role("button", name="Renew").click()
    renew = page.get_by_role("dialog").filter(has_text="Renew")
    await renew.get_by_label("Sell this trial again").check()
    await assert_accessible(page, "the Renew dialog with the trial override")
    await renew.get_by_role("button", name="Renew").click()
    await expect(page.locator("#flash")).to_contain_text("Renewed")
