"""The admin pages an operator uses, in a real headless Chromium, each saved as a screenshot in
test-artifacts/: the campaign list, a campaign's change page, the participation list."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from testsupport.artifacts import ARTIFACTS
from testsupport.browser import headless_chromium, sign_in
from testsupport.factories import CampaignFactory, participation_request
from testsupport.polling import poll

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def browser(tmp_path):
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        driver.set_window_size(1920, 1080)  # every column of the lists in the screenshots
        yield driver


def test_an_operator_reads_the_campaigns_closes_one_and_looks_at_its_participations(browser, live_server):
    from selenium.webdriver.common.by import By

    User.objects.create_user("ops", password="ops-secret", is_staff=True, is_superuser=True)
    now = timezone.now()
    spring = CampaignFactory(name="Spring launch", total_stock=3, starts_at=now - timedelta(hours=1))
    with transaction.atomic():
        services.participations_decide_batch([participation_request(spring, user, offset=i) for i, user in
                                              enumerate(["alice", "bob", "alice", "=cmd|' /C calc'!A0", "dave"])])
    CampaignFactory(name="Summer preview", total_stock=500, starts_at=now + timedelta(days=30))
    ARTIFACTS.mkdir(exist_ok=True)

    sign_in(browser, live_server.url, username="ops", password="ops-secret", next_path="/admin/campaigns/campaign/")
    row = browser.find_element(By.XPATH, f'//tr[.//a[contains(@href, "/campaign/{spring.pk}/change/")]]')
    assert [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td.field-status, td.field-stock")] == \
        ["Sold Out", "3 / 3"]
    assert row.find_element(By.LINK_TEXT, "dashboard").get_attribute("href").endswith(
        f"/dashboard/?campaign_id={spring.pk}")
    browser.save_screenshot(str(ARTIFACTS / "admin-campaign-list.png"))

    browser.get(f"{live_server.url}/admin/campaigns/campaign/{spring.pk}/change/")
    browser.save_screenshot(str(ARTIFACTS / "admin-campaign-change.png"))
    browser.find_element(By.CSS_SELECTOR, "button[name=close-now]").click()
    poll(lambda: "already" not in browser.page_source and "Closed Spring launch" in browser.page_source,
         message="the close confirmed on the change page")
    assert Campaign.objects.get(pk=spring.pk).status_at(timezone.now()) == Campaign.Status.CLOSED
    assert not browser.find_elements(By.CSS_SELECTOR, "button[name=close-now]")

    browser.get(f"{live_server.url}/admin/campaigns/participation/?campaign__id__exact={spring.pk}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 5
    browser.save_screenshot(str(ARTIFACTS / "admin-participation-list.png"))
    # The admin has no favicon (a 404 per page); anything else the console reports is a fault.
    assert [entry for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]] == []
