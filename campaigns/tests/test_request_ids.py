"""Request ids verify against SECRET_KEY and every SECRET_KEY_FALLBACKS entry: a key rotation (or
a blue/green deployment with a new key) does not turn earlier ids into 404s while the old key is
a fallback, and an id of a key dropped from the fallbacks is not issued here."""
import pytest

from campaigns.request_ids import is_issued_here, new_request_id
from testsupport.identity import ParticipantClient


def test_an_id_verifies_across_a_rotation_while_its_key_is_a_fallback(settings):
    settings.SECRET_KEY = "the-old-key-" + "x" * 40
    before = new_request_id()
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-key-" + "y" * 40, [settings.SECRET_KEY]
    after = new_request_id()
    assert is_issued_here(before) and is_issued_here(after)
    settings.SECRET_KEY_FALLBACKS = []  # the rotation is over
    assert not is_issued_here(before) and is_issued_here(after)


@pytest.mark.django_db
def test_a_pending_request_from_before_a_rotation_is_pending_not_404(settings):
    settings.SECRET_KEY = "the-old-key-" + "x" * 40
    before = new_request_id()
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-key-" + "y" * 40, [settings.SECRET_KEY]
    response = ParticipantClient().get(f"/api/participations/{before}")
    assert (response.status_code, response.json()["status"]) == (200, "PENDING")
    settings.SECRET_KEY_FALLBACKS = []
    assert ParticipantClient().get(f"/api/participations/{before}").status_code == 404
