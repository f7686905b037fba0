"""The dashboard in a real browser: headless Chromium (Debian's chromium and
chromium-driver, through python3-selenium) loads it from a running server,
fills the search box and the test reads the hits off the page and compares
them with the API's answer.  GIGAVECTOR_SCREENSHOT=path also saves a
screenshot (the README's)."""

import os
import shutil
import uuid

import httpx
import pytest

from gigavector import (AuthConfig, AuthManager, Database, IndexType, NamespaceConfig,
                        NamespaceManager, Server, ServerConfig)

webdriver = pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMEDRIVER),
                                reason="chromium-driver is not installed")


@pytest.fixture()
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    service = webdriver.chrome.service.Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def page_hits(driver):
    rows = driver.find_elements(By.CSS_SELECTOR, "#hits tbody tr.hit")
    return [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]


def run_search(driver, query, k):
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(query)
    kbox = driver.find_element(By.ID, "k")
    kbox.clear()
    kbox.send_keys(str(k))
    driver.find_element(By.ID, "search-button").click()
    WebDriverWait(driver, 30).until(
        ec.text_to_be_present_in_element((By.ID, "search-message"), "hits in"))


def test_dashboard_searches_a_collection(dsn, browser):
    name = "dash_" + uuid.uuid4().hex[:8]
    db = Database.open(name, 3, IndexType.HNSW, dsn=dsn)
    ids = db.add_vectors([[i, i % 4, 1] for i in range(30)], [{"n": i} for i in range(30)])
    server = Server(db, ServerConfig(port=0))
    server.start()
    try:
        browser.get(server.url + "/")
        WebDriverWait(browser, 30).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "#collections tbody tr")))
        row = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#collections tbody td")]
        assert row[:4] == ["(collection)", "30", "3", "hnsw"]
        assert row[4].endswith("kB") or row[4].endswith("B")
        # by id: the page reads the vector, then searches with it
        run_search(browser, str(ids[7]), 4)
        want = httpx.post(server.url + "/search", json={"vector": [7, 3, 1], "k": 4}).json()["hits"]
        got = page_hits(browser)
        assert [int(r[1]) for r in got] == [h["id"] for h in want]
        assert [r[0] for r in got] == ["1", "2", "3", "4"]
        assert float(got[0][2]) == 0.0 and got[0][3] == '{"n":7}'
        for r, h in zip(got, want):
            assert float(r[2]) == pytest.approx(h["distance"], rel=1e-5)
        # a pasted vector
        run_search(browser, "[20.2, 0, 1]", 2)
        assert [int(r[1]) for r in page_hits(browser)] == [ids[20], ids[21]]
        # a bad one: the server's message on the page, no hits
        browser.find_element(By.ID, "query").clear()
        browser.find_element(By.ID, "query").send_keys("[1, 2]")
        browser.find_element(By.ID, "search-button").click()
        WebDriverWait(browser, 30).until(
            ec.text_to_be_present_in_element((By.ID, "search-message"), "400"))
        assert browser.find_element(By.ID, "search-message").text == \
            "400 bad_request: query has dimension 2, the database has 3"
        assert page_hits(browser) == []
        csp = httpx.get(server.url + "/").headers["content-security-policy"]
        assert csp.startswith("default-src 'self'")
    finally:
        server.stop()
        with db.connection() as c:
            c.execute(f'DROP TABLE "{name}"')
        db.close()


def test_dashboard_with_a_tenant_key(dsn, browser):
    suffix = uuid.uuid4().hex[:6]
    with NamespaceManager(dsn) as mgr:
        a = mgr.create(NamespaceConfig(f"shop_{suffix}", 4, max_vectors=1000))
        b = mgr.create(NamespaceConfig(f"blog_{suffix}", 4))
        auth = AuthManager(AuthConfig(), mgr)
        server = Server(mgr, ServerConfig(port=0, auth=auth))
        server.start()
        try:
            a.add_vectors([[i, 0, 0, 1] for i in range(12)], [{"sku": i} for i in range(12)])
            b.add_vector([1, 1, 1, 1])
            key, _ = auth.generate_api_key("dashboard", role=a.role)
            browser.get(server.url + "/")
            browser.find_element(By.ID, "key").send_keys(key)
            browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
            WebDriverWait(browser, 30).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#collections tbody tr")))
            rows = [[td.text for td in r.find_elements(By.TAG_NAME, "td")]
                    for r in browser.find_elements(By.CSS_SELECTOR, "#collections tbody tr")]
            assert [r[0] for r in rows] == [a.name]  # the key's tenant only
            assert rows[0][1:4] == ["12", "4", "hnsw"] and rows[0][5] == "1000"
            run_search(browser, "[5.1, 0, 0, 1]", 3)
            got = page_hits(browser)
            assert [r[3] for r in got] == ['{"sku":5}', '{"sku":6}', '{"sku":4}']
            shot = os.environ.get("GIGAVECTOR_SCREENSHOT")
            if shot:
                browser.save_screenshot(shot)
        finally:
            server.stop()
            auth.close()
            mgr.drop(a.name)
            mgr.drop(b.name)
