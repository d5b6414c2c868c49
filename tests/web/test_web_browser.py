"""The web side in a real headless browser: Debian's Chromium driven by Selenium, on a loopback
server over a real SQLite database (tests/websetup.py).

A reviewer opens the review queue, moves with j/k, writes a note with n, confirms one flag with
c and dismisses another with d, and sees the claim's standing change on its page; a hostile item
shows as text and runs nothing; a POST without the CSRF token is refused; no page breaks its own
Content-Security-Policy (htmx included). Screenshots of the review page and of a claim's timeline
are saved in docs/.

Without Chromium and chromedriver these tests skip, unless MONITOR_REQUIRE_BROWSER is set (as CI
does, which installs both): then they fail. The browser may reach loopback only: every other
host name resolves to nothing, and its background services are off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import FeedServer, Workspace
from tests.websetup import HOSTILE_TITLE, Site, build_site, chromium_paths, serving

ENV_REQUIRE = "MONITOR_REQUIRE_BROWSER"
DOCS = Path(__file__).parents[2] / "docs"
WAIT = 20


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    paths = chromium_paths()
    if paths is None:
        if os.environ.get(ENV_REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{ENV_REQUIRE} is set but chromium and chromedriver are not installed")
        pytest.skip("no chromium + chromedriver (apt-get install chromium chromium-driver)")
    binary, driver_path = paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI and containers run as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # loopback only
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(feeds: FeedServer, workspace: Workspace) -> Iterator[Site]:
    built = build_site(feeds, workspace)
    with serving(built) as running:
        yield running
    built.engine.dispose()


def press(driver: WebDriver, key: str) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(key)


def selected(driver: WebDriver) -> str | None:
    found = driver.find_elements(By.CSS_SELECTOR, ".queue .flag.selected")
    return found[0].get_attribute("id") if found else None


def reviewed(driver: WebDriver, element_id: str) -> bool:
    """Read in the page (an element htmx swaps out is stale to Selenium)."""
    script = "const e = document.getElementById(arguments[0]); return !!e && e.classList.contains('reviewed');"
    return bool(driver.execute_script(script, element_id))


def wait_for(driver: WebDriver, condition: Any) -> Any:
    return WebDriverWait(driver, WAIT).until(condition)


def open_page(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def csp_violations(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_review_with_the_keyboard_changes_the_standing(site: Site, browser: WebDriver) -> None:
    open_page(browser, f"{site.base}/claims/C01")
    assert browser.find_element(By.ID, "standing").text == "contested"

    open_page(browser, f"{site.base}/review")
    wait_for(browser, lambda d: d.execute_script("return typeof window.htmx") == "object")
    first, second = f"flag-{site.supports}", f"flag-{site.contradicts}"
    wait_for(browser, lambda d: selected(d) == first)  # the best flag is selected on load
    DOCS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(DOCS / "web-review.png"))
    press(browser, "j")
    assert selected(browser) == second
    press(browser, "k")
    assert selected(browser) == first

    press(browser, "n")  # a note on the selected flag, then back to the list
    note = browser.switch_to.active_element
    assert note.get_attribute("name") == "note"
    note.send_keys("seen in two outlets")
    note.send_keys(Keys.ESCAPE)
    press(browser, "c")
    wait_for(browser, lambda d: reviewed(d, first))
    wait_for(browser, lambda d: selected(d) == second)  # on to the next flag
    press(browser, "d")
    wait_for(browser, lambda d: reviewed(d, second))
    assert "confirmed" in browser.find_element(By.ID, first).text
    assert "dismissed" in browser.find_element(By.ID, second).text

    flags = {f.id: f for f in site.repo.list_flags(claim_id="C01")}  # stored as `monitor flags confirm` does
    assert (flags[site.supports].state, flags[site.supports].note) == ("confirmed", "seen in two outlets")
    assert flags[site.supports].reviewed_at is not None
    assert (flags[site.contradicts].state, flags[site.contradicts].note) == ("dismissed", None)

    open_page(browser, f"{site.base}/claims/C01")
    assert browser.find_element(By.ID, "standing").text == "supported"
    timeline = browser.find_elements(By.CSS_SELECTOR, "ol.timeline:not(.dismissed) .flag")
    assert [t.get_attribute("id") for t in timeline] == [first]
    assert "seen in two outlets" in timeline[0].text
    assert "The Commerce Department updated its export control list" in timeline[0].text
    assert browser.save_screenshot(str(DOCS / "web-claim-timeline.png"))
    open_page(browser, f"{site.base}/review")  # reviewed flags leave the queue
    assert browser.find_elements(By.ID, first) == [] and browser.find_elements(By.ID, second) == []
    assert csp_violations(browser) == []


def test_a_hostile_item_shows_as_text_and_runs_nothing(site: Site, browser: WebDriver) -> None:
    for path in ("/items", "/review", "/claims/C02", "/stories"):
        open_page(browser, site.base + path)
        assert HOSTILE_TITLE in browser.find_element(By.TAG_NAME, "main").text, path
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert browser.find_elements(By.CSS_SELECTOR, "main img, main script, main b, main [onerror]") == [], path
        links = [a.get_attribute("href") or "" for a in browser.find_elements(By.CSS_SELECTOR, "main a")]
        assert not any(link.lower().startswith("javascript:") for link in links), path
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 (reading it is the check)
    for link in browser.find_elements(By.CSS_SELECTOR, "main a"):
        assert link.get_attribute("href") is not None
    assert csp_violations(browser) == []


def test_a_post_without_the_csrf_token_is_refused(site: Site, browser: WebDriver) -> None:
    open_page(browser, f"{site.base}/review")  # the browser holds the CSRF cookie now
    script = """
        const done = arguments[arguments.length - 1];
        const body = new URLSearchParams({action: "confirm"});
        fetch(arguments[0], {method: "POST", body: body}).then(r => done(r.status), e => done(String(e)));
    """
    assert browser.execute_async_script(script, f"/flags/{site.supports}/review") == 403
    with_token = """
        const done = arguments[arguments.length - 1];
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const body = new URLSearchParams({action: "confirm", csrf_token: token});
        fetch(arguments[0], {method: "POST", body: body, redirect: "manual"})
            .then(r => done(r.type), e => done(String(e)));
    """
    assert browser.execute_async_script(with_token, f"/flags/{site.contradicts}/review") == "opaqueredirect"
    states = {f.id: f.state for f in site.repo.list_flags(claim_id="C01")}
    assert states == {site.supports: "new", site.contradicts: "confirmed"}


@pytest.mark.sqlite_only  # FTS5 across both scripts; PostgreSQL's substring fallback: tests/web/test_web_postgres.py
def test_search_in_either_script(site: Site, browser: WebDriver) -> None:
    open_page(browser, f"{site.base}/items")
    wait_for(browser, lambda d: d.execute_script("return typeof window.htmx") == "object")
    box = browser.find_element(By.CSS_SELECTOR, "form.search input[name=q]")
    box.send_keys("台积电" + Keys.ENTER)  # simplified: the item is in traditional script
    wait_for(browser, lambda d: d.current_url.endswith("/items?q=%E5%8F%B0%E7%A7%AF%E7%94%B5"))
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "ul.items li.item")) == 1)
    assert "台積電暫停向中國大陸客戶供應先進晶片" in browser.find_element(By.CSS_SELECTOR, "ul.items").text
    assert csp_violations(browser) == []
