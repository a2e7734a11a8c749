"""The demo page in headless Chromium: what a person sees after asking for recommendations, and the loop - order a
dish, see it in the recent orders and the recommendations follow.

``FOODREC_UPDATE_SCREENSHOTS=1`` also writes the screenshot taken after the order to ``docs/serving-demo.png``
(otherwise it goes to the test's temporary folder only, so a test run leaves the checkout as it was).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture()
def browser(skip_or_fail):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which(CHROMEDRIVER) is None:
        skip_or_fail(
            "the browser test needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_a_person_sees_dishes_prices_variant_and_model_version(browser, city, tmp_path, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    app = create_app(state, tmp_path / "events.sqlite")
    with live_server(app) as server:
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 15)
        assert "recommend" in browser.title.lower()
        customer = browser.find_element(By.ID, "customer")
        wait.until(lambda d: customer.get_attribute("value"))  # the page filled in an example customer
        customer.clear()
        customer.send_keys("c05")
        area = browser.find_element(By.ID, "area")
        area.clear()
        area.send_keys("south")
        browser.execute_script("document.getElementById('at').value = '2026-03-02T19:30'")
        k = browser.find_element(By.ID, "k")
        k.clear()
        k.send_keys("5")
        browser.find_element(By.ID, "go").click()
        wait.until(ec.visibility_of_element_located((By.ID, "results")))
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        assert len(rows) == 5
        cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
        assert [c[0] for c in cells] == ["1", "2", "3", "4", "5"]
        # south is served by Sushi Go (r1) and Taco Loco (r4): a person sees dish names, restaurants, prices
        assert cells[0][2] in ("Sushi Go", "Taco Loco")
        assert cells[0][1].split()[0] in ("Sushi", "Taco") and " dish " in cells[0][1]
        assert all(float(c[3]) > 0 for c in cells)
        assert browser.find_element(By.ID, "variant").text == "default"
        version = state.snapshot.models["default"].version
        assert browser.find_element(By.ID, "version").text == version
        # ordering the first dish records an order event
        rows[0].find_element(By.TAG_NAME, "button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "recorded"))
        events = app.state.service.events.read_events()
        assert set(events["type"]) == {"impression", "order"}
        assert events.set_index("type").loc["order", "customer_id"] == "c05"
        # a bad input shows a readable message instead of results
        customer.clear()
        customer.send_keys("x" * 129)
        browser.find_element(By.ID, "go").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "error"), "customer_id:"))
        assert "at most 128 characters" in browser.find_element(By.ID, "error").text


def test_ordering_a_dish_shows_it_in_recent_orders_and_the_recommendations_follow(browser, city, tmp_path, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    state = ServiceState(recommender="customer-history", store=city["store"])
    app = create_app(state, tmp_path / "events.sqlite")
    with live_server(app) as server:
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 15)
        customer = browser.find_element(By.ID, "customer")
        wait.until(lambda d: customer.get_attribute("value"))
        customer.clear()
        customer.send_keys("c05")
        area = browser.find_element(By.ID, "area")
        area.clear()
        area.send_keys("east")
        browser.execute_script("document.getElementById('at').value = '2026-03-02T19:30'")
        k = browser.find_element(By.ID, "k")
        k.clear()
        k.send_keys("8")
        browser.find_element(By.ID, "go").click()
        wait.until(ec.visibility_of_element_located((By.ID, "results")))
        wait.until(ec.visibility_of_element_located((By.ID, "history")))
        # the customer's recent orders beside the list, and a reason on every recommended dish
        orders = browser.find_elements(By.CSS_SELECTOR, "#orders li")
        assert 1 <= len(orders) <= 5 and all("UTC" in li.text and " dish " in li.text for li in orders)
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        reasons = [row.find_element(By.CLASS_NAME, "reason").text for row in rows]
        assert len(rows) == 8 and all(reasons), reasons
        assert any(r.startswith("you ordered it before (") for r in reasons), reasons
        assert set(reasons) <= {r for r in reasons if r.startswith("you ordered it before (")} | {"popular in east"}
        request = browser.find_element(By.ID, "request").text
        pick = rows[-1]
        item_id, name = pick.get_attribute("data-item-id"), pick.find_elements(By.TAG_NAME, "td")[1].text
        before = re.match(r"you ordered it before \((\d+) times?\)", reasons[-1])
        times = int(before.group(1)) + 1 if before else 1

        pick.find_element(By.TAG_NAME, "button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "recorded"))
        wait.until(lambda d: d.find_element(By.ID, "request").text != request)  # asked again
        first = browser.find_element(By.CSS_SELECTOR, "#orders li")
        assert first.get_attribute("data-item-ids") == item_id and name in first.text
        assert first.find_element(By.TAG_NAME, "time").text == "2026-03-02 19:30 UTC"  # ordered at the time shown
        row = browser.find_element(By.CSS_SELECTOR, f"#results tbody tr[data-item-id='{item_id}']")
        expected = f"you ordered it before ({times} time{'' if times == 1 else 's'})"
        assert row.find_element(By.CLASS_NAME, "reason").text == expected
        # the page moved its clock one time slot on (the next visit), so the next ranking sees the order
        assert browser.find_element(By.ID, "at").get_attribute("value").startswith("2026-03-02T19:35")
        events = app.state.service.events.read_events()
        order = events[events["type"] == "order"].iloc[0]
        assert order["customer_id"] == "c05" and list(order["items"]) == [item_id]
        assert order["event_id"].startswith("order-")  # a fresh key per click, not derived from the answer

        shot = tmp_path / "serving-demo.png"
        assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("FOODREC_UPDATE_SCREENSHOTS"):
            shutil.copyfile(shot, Path(__file__).resolve().parents[2] / "docs" / "serving-demo.png")
