"""The web console in a real browser: Playwright driving Debian's chromium (no browser download).

Skipped when /usr/bin/chromium is missing, except under ``CI=true`` (then a failure: ``.ci/run``
installs it). With ``MESHGATE_CONSOLE_SCREENSHOTS=DIR`` the tests save the main pages as PNGs there
(``docs/console/`` holds the ones ``docs/console.md`` shows).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.meshgate.conftest import CHECKOUT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("MESHGATE_CONSOLE_SCREENSHOTS")

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium", pytrace=False)
    pytest.skip(
        f"no browser: {CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True
    )

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_as(browser, console_site):
    """A page signed in (through the login form) with the named token."""
    contexts = []

    def signed_in(name: str) -> Page:
        context = browser.new_context(base_url=console_site.url, viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/ui/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("Token").fill(console_site.tokens[name])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Subjects")).to_be_visible()
        return page

    yield signed_in
    for context in contexts:
        context.close()


def _screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)


def test_search_a_subject_and_open_it(open_as):
    page = open_as("billing")
    _screenshot(page, "subjects")
    page.get_by_label("Search subjects").fill("CheckoutComp")
    page.get_by_label("Search subjects").press("Enter")
    expect(page.locator("#subject-rows tr")).to_have_count(1)
    page.get_by_role("link", name=CHECKOUT).click()
    expect(page.get_by_role("heading", name=CHECKOUT, exact=True)).to_be_visible()
    expect(page.locator("tr.read").first).to_contain_text("amount")
    _screenshot(page, "subject")


def test_diff_v1_and_v3_shows_the_violation_on_its_line(open_as):
    page = open_as("billing")
    page.goto(f"/ui/subjects/{CHECKOUT}")
    page.get_by_label("from version").select_option("1")
    page.get_by_label("to version").select_option("3")
    page.get_by_role("button", name="Diff").click()
    line = page.locator('tr.violated[data-new-line="29"]')
    expect(line).to_contain_text("TYPE_CHANGED")
    expect(line).to_contain_text("CheckoutCompleted.amount")
    expect(page.locator("p.verdict")).to_contain_text("At the subject's level BACKWARD")
    line.scroll_into_view_if_needed()
    _screenshot(page, "diff")


def test_try_a_breaking_candidate_and_see_the_consumer_it_breaks(open_as, console_site):
    page = open_as("billing")
    page.goto(f"/ui/subjects/{CHECKOUT}")
    latest = console_site.server.service.get_version(CHECKOUT).schema
    page.get_by_label("candidate schema").fill(
        latest.replace('"name": "currency"', '"name": "currency_code"')
    )
    page.get_by_role("button", name="Check").click()
    expect(page.locator("p.verdict")).to_have_text("Breaking: registering it would be rejected.")
    expect(page.locator("ul.broken")).to_contain_text("billing.reports")
    _screenshot(page, "try-a-change")


def test_the_owner_changes_the_level_another_domain_gets_no_control(open_as, console_site):
    owner = open_as("checkout-team")
    owner.goto(f"/ui/subjects/{CHECKOUT}")
    owner.get_by_label("new level").select_option("FULL")
    owner.get_by_role("button", name="Set level").click()
    expect(owner.locator("dd[data-level]")).to_have_text("FULL")
    console_site.server.service.set_config(CHECKOUT, "BACKWARD")
    other = open_as("identity-team")
    other.goto(f"/ui/subjects/{CHECKOUT}")
    expect(other.get_by_role("heading", name="Configuration")).to_be_visible()
    expect(other.get_by_role("button", name="Set level")).to_have_count(0)
    response = other.request.post(
        f"/ui/config/{CHECKOUT}",
        form={"level": "NONE", "csrf": other.locator("input[name=csrf]").first.input_value()},
    )
    assert response.status == 403
    assert console_site.server.service.get_config(CHECKOUT).level.value == "BACKWARD"


def test_an_event_appears_without_reloading_when_a_version_is_registered_through_grpc(open_as, console_site):
    from registry.client import RegistryClient

    page = open_as("billing")
    page.goto("/ui/changes")
    expect(page.locator("[data-live-indicator].on")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    with RegistryClient(console_site.server.grpc_target, console_site.tokens["admin"]) as client:
        client.register("inventory.LiveOne", '{"type": "string"}', "AVRO")
    fresh = page.locator("#change-rows tr.fresh").filter(has_text="inventory.LiveOne")
    expect(fresh).to_contain_text("VERSION_REGISTERED")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    _screenshot(page, "changes")


def test_the_subject_list_updates_live(open_as, console_site):
    from registry.client import RegistryClient

    page = open_as("billing")
    page.get_by_label("Search subjects").fill("LiveTwo")
    page.get_by_label("Search subjects").press("Enter")
    expect(page.locator("#subject-rows")).to_contain_text("No subject matches.")
    expect(page.locator("[data-live-indicator].on")).to_be_visible()
    with RegistryClient(console_site.server.grpc_target, console_site.tokens["admin"]) as client:
        client.register("inventory.LiveTwo", '{"type": "string"}', "AVRO")
    expect(page.locator("#subject-rows")).to_contain_text("inventory.LiveTwo")


def test_open_a_quarantined_batch_and_see_its_reasons(open_as, console_site):
    page = open_as("billing")
    page.get_by_role("link", name="Lakehouse").click()
    _screenshot(page, "lakehouse")
    page.locator("tr.status-quarantined").get_by_role("link", name=console_site.batch_id).click()
    expect(page.get_by_role("heading", name="Quarantined rows by reason")).to_be_visible()
    expect(page.locator("section.reason").first).to_contain_text("checkout-bad.jsonl")
    _screenshot(page, "batch")


def test_follow_lineage_from_a_contract_to_a_gold_model(open_as):
    page = open_as("billing")
    page.goto(f"/ui/subjects/{CHECKOUT}")
    page.get_by_role("link", name="Lineage", exact=True).last.click()
    expect(page.locator(f'a[data-node="{CHECKOUT}"]')).to_be_visible()
    _screenshot(page, "lineage")
    page.locator('a[data-node="silver.silver_checkout_completed"]').click()
    expect(page.get_by_role("heading", name="silver.silver_checkout_completed dbt model")).to_be_visible()
    page.go_back()
    page.locator('a[data-node="gold.daily_revenue"]').click()
    expect(page.get_by_role("heading", name="gold.daily_revenue dbt model")).to_be_visible()
    expect(page.locator("p.doc")).to_contain_text("Revenue per UTC day")
