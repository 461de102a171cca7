#!/usr/bin/python3
"""66-console.t — the web console in a real browser (issue #11): Debian's chromium,
headless, driven by Debian's python3-selenium through chromedriver. It signs in with a
pasted token, sees a case reported over SMS (with its Urdu area name, right to left),
verifies it from the page behind the confirmation, and sees the alert counts rise.
Screenshots go to build/console-*.png for review. Debian's own python3 runs it: that is
where python3-selenium lives."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing, skip_all  # noqa: E402
from talaash import Gateway, binary, wait_until, ROOT, BUILD  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.chrome.service import Service
except ImportError:
    skip_all("python3-selenium is not installed (scripts/install-deps.sh installs it)")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    skip_all("chromium or chromium-driver is not installed (scripts/install-deps.sh installs them)")

OPER = "console-operator-0123456789"
SHOTS = os.path.join(ROOT, BUILD)
CONF = """
[api]
tokens = desk:operator:%s
console_dir = %s
""" % (OPER, os.path.join(ROOT, "console"))


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="talaash-chromium-")
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,900", "--user-data-dir=" + profile]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=opts), profile


with Gateway(conf_extra=CONF) as gw:
    subprocess.run([binary(), "police", "add", "03009990001", "--area", "Korangi", "-c",
                    gw.conf_path], check=True, capture_output=True, cwd=gw.dir)
    for i in range(3):
        gw.post_form("/sms/console", {"from": "0300111000%d" % i, "text": "JOIN Korangi"})
    gw.post_form("/sms/console", {"from": "03001234567",
                                  "text": "MISSING Bilal, 8, boy, Korangi, blue shirt"})
    case_no = gw.sql("SELECT case_no FROM cases WHERE state = 'reported'")[0][0]
    base = "http://127.0.0.1:%d/console/" % gw.port
    drv, profile = browser()
    try:
        drv.set_page_load_timeout(20)
        drv.get(base)
        ok(wait_until(lambda: drv.find_element(By.ID, "token").is_displayed(), 10),
           "the console asks for a token")
        drv.find_element(By.ID, "token").send_keys("wrong-token-000000000")
        drv.find_element(By.ID, "login-button").click()
        ok(wait_until(lambda: "refused" in drv.find_element(By.ID, "login-error").text, 10),
           "a wrong token is refused on the page")
        drv.find_element(By.ID, "token").send_keys(OPER)
        drv.find_element(By.ID, "login-button").click()
        ok(wait_until(lambda: drv.find_element(By.ID, "who").text == "desk (operator)", 10),
           "signed in as desk (operator)")
        is_(drv.execute_script("return sessionStorage.getItem('talaash.token')"), OPER,
            "the token is kept in sessionStorage")
        row = "tr[data-case='%s']" % case_no
        ok(wait_until(lambda: drv.find_elements(By.CSS_SELECTOR, row), 10),
           "the case reported over SMS is listed")
        cells = [td.text for td in drv.find_elements(By.CSS_SELECTOR, row + " td")]
        is_(cells[:3], [case_no, "REPORTED", "Bilal, 8, male"], "its number, state and child")
        ok("Korangi" in cells[3] and "کورنگی" in cells[3], "its area in English and Urdu")
        ur = drv.find_element(By.CSS_SELECTOR, row + " td span[lang='ur']")
        is_(drv.execute_script("return getComputedStyle(arguments[0]).direction", ur), "rtl",
            "the Urdu name is set right to left")
        ok("ago" in cells[4], "the age of the report is shown (%r)" % cells[4])
        drv.save_screenshot(os.path.join(SHOTS, "console-list.png"))

        drv.find_element(By.CSS_SELECTOR, row).click()
        ok(wait_until(lambda: drv.find_element(By.ID, "d-case").text == case_no, 10),
           "the case opens in the detail pane")
        verify = drv.find_element(By.CSS_SELECTOR, "#d-actions button[data-action='verify']")
        ok(verify.is_enabled(), "Verify is offered for a reported case")
        found = drv.find_element(By.CSS_SELECTOR, "#d-actions button[data-action='widen']")
        ok(not found.is_enabled(), "Widen is not offered before it is active")
        verify.click()
        ok(wait_until(lambda: drv.find_element(By.ID, "confirm").get_attribute("open") is not None, 5),
           "Verify asks for confirmation first")
        is_(gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_no,))[0][0], "reported",
            "nothing happens before the confirmation")
        drv.find_element(By.ID, "confirm-yes").click()
        ok(wait_until(lambda: "verified" in drv.find_element(By.ID, "d-result").text, 10),
           "the page says the case was verified")
        ok(wait_until(lambda: gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_no,))[0][0]
                      == "active"), "the case is active in the store")
        ok(wait_until(lambda: "sent 4" in drv.find_element(By.ID, "d-progress").text, 15),
           "the alert counts rise to 4 sent (3 subscribers and the officer)")
        is_(gw.sql("SELECT actor FROM audit_log WHERE action = 'verify'"), [("api:desk",)],
            "audited as the console's token")
        drv.save_screenshot(os.path.join(SHOTS, "console-case.png"))
        ok(os.path.getsize(os.path.join(SHOTS, "console-case.png")) > 10000,
           "screenshots saved under %s" % BUILD)
        errors = [e for e in drv.get_log("browser")
                  if e.get("level") == "SEVERE" and e.get("source") != "network"]
        is_(errors, [], "no script errors in the browser console")
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)

sys.exit(done_testing())
