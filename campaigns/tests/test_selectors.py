"""campaign_window_async: the participation fast path's campaign read (real MariaDB)."""
import asyncio

import pytest

from campaigns import selectors
from campaigns.errors import CampaignNotFound
from testsupport.factories import CampaignFactory

# The read runs on an executor thread with its own connection: the campaign must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reads(monkeypatch):
    """Counts the database reads behind campaign_window_async."""
    counted = []
    real = selectors.campaign_window

    def counting(campaign_id):
        counted.append(campaign_id)
        return real(campaign_id)

    monkeypatch.setattr(selectors, "campaign_window", counting)
    return counted


async def many(campaign_id, n=20):
    return await asyncio.gather(*(selectors.campaign_window_async(campaign_id) for _ in range(n)),
                                return_exceptions=True)


def test_requests_missing_the_cache_together_share_one_read(reads):
    campaign = CampaignFactory()
    windows = asyncio.run(many(campaign.pk))
    assert set(windows) == {selectors.CampaignWindow(campaign.pk, campaign.starts_at, campaign.ends_at)}
    assert reads == [campaign.pk]
    asyncio.run(many(campaign.pk))  # cached now
    assert reads == [campaign.pk]


def test_an_unknown_campaign_fails_every_waiter_and_is_read_again_next_time(reads):
    answers = asyncio.run(many(999_999))
    assert all(isinstance(answer, CampaignNotFound) for answer in answers) and reads == [999_999]
    asyncio.run(many(999_999))  # not cached: a campaign created meanwhile must be found
    assert reads == [999_999, 999_999]
