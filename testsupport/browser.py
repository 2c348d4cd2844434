"""A real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium."""
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1440,1200")


@contextmanager
def headless_chromium(profile_dir: Path):
    """A Chrome WebDriver keeping the browser's console log; the test is skipped without the packages."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("needs Debian's chromium and chromium-driver packages; scripts/test.sh installs "
                    "them with apt-get when it runs as root")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver, base_url, *, username, password, next_path):
    """Through the admin's login form, as a person would; back on next_path once signed in."""
    from selenium.webdriver.common.by import By

    from testsupport.polling import poll

    driver.get(f"{base_url}{next_path}")
    assert "/admin/login/" in driver.current_url  # staff only: log in first
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    poll(lambda: driver.current_url.endswith(next_path), message=f"back on {next_path}")
    # The address changes when the navigation commits, before the page has loaded: a lookup right
    # after could read the page half parsed (seen once in the full suite).
    poll(lambda: driver.execute_script("return document.readyState") == "complete",
         message=f"{next_path} loaded")
