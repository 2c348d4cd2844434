"""Coupon codes: their format and check character, given to winners only in both decision paths,
unique even when a code comes out twice, shown by the result endpoints, redeemed exactly once."""
import threading
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns import coupons, decision, services
from campaigns.consumers import FirstComeConsumer
from campaigns.coupons import ALPHABET, LENGTH, CouponCodeInvalid, coupon_code_read, coupon_codes, with_check
from campaigns.models import Participation
from campaigns.redemption import coupon_redeem
from campaigns.request_ids import new_request_id
from campaigns.selectors import coupons_redeemed
from testsupport.database import entries_read
from testsupport.factories import CampaignFactory, participation_request, staff_account
from testsupport.identity import ParticipantClient, as_user

bodies = st.text(ALPHABET, min_size=LENGTH - 1, max_size=LENGTH - 1)


def refusal(typed):
    with pytest.raises(CouponCodeInvalid) as refused:
        coupon_code_read(typed)
    return str(refused.value)


# --- the code ---------------------------------------------------------------------------------

def test_a_code_is_16_characters_of_the_alphabet_and_reads_back_as_itself():
    for code in coupon_codes(1000):
        assert len(code) == LENGTH and set(code) <= set(ALPHABET)
        assert coupon_code_read(code) == code


def test_codes_of_a_big_batch_are_all_different():
    assert len(set(coupon_codes(200_000))) == 200_000


@given(body=bodies)
def test_every_single_character_substitution_is_caught(body):
    code = with_check(body)
    for position in range(LENGTH):
        for other in ALPHABET.replace(code[position], ""):
            typo = code[:position] + other + code[position + 1:]
            assert "check character" in refusal(typo)


@given(body=bodies)
def test_every_adjacent_transposition_is_caught(body):
    code = with_check(body)
    for position in range(LENGTH - 1):
        a, b = code[position], code[position + 1]
        if a != b:
            assert "check character" in refusal(code[:position] + b + a + code[position + 2:])


CONFUSIONS = {"0": "0Oo", "1": "1IiLl", **{c: c + c.lower() for c in ALPHABET if c.isalpha()}}


@given(body=bodies, data=st.data())
def test_case_confusable_letters_and_hyphens_read_as_crockford_says(body, data):
    code = with_check(body)
    typed = "".join(data.draw(st.sampled_from(CONFUSIONS.get(c, c))) + data.draw(st.sampled_from(["", "-"]))
                    for c in code)
    assert coupon_code_read(typed) == code


@given(typed=st.text(max_size=80))
def test_any_other_input_is_refused_with_a_reason_or_is_a_code(typed):
    try:
        code = coupon_code_read(typed)
    except CouponCodeInvalid as exc:
        assert str(exc)
    else:
        assert len(code) == LENGTH and set(code) <= set(ALPHABET)


def test_the_reason_names_the_alphabet_the_length_or_the_check():
    code = coupon_codes(1)[0]
    assert "'U' at position 3" in refusal(code[:3] + "U" + code[4:])
    assert "'é' at position 0" in refusal("é" + code[1:])
    assert "this has 15" in refusal(code[:-1])
    assert "this has 200" in refusal("0" * 200)  # not read at all
    assert "check character" in refusal(code[:-1] + ALPHABET[(ALPHABET.index(code[-1]) + 1) % 32])


# --- in the decision ----------------------------------------------------------------------

def decide_per_event(requests):
    return [services.participation_decide(r) for r in requests]


def decide_batch(requests):
    with transaction.atomic():  # as the consumer runs it
        return services.participations_decide_batch(requests)


@pytest.mark.django_db
@pytest.mark.parametrize("decide", [decide_batch, decide_per_event], ids=["batch", "per-event"])
def test_winners_and_only_winners_get_a_code(decide):
    campaign = CampaignFactory(total_stock=3)
    requests = [participation_request(campaign, user, offset=i) for i, user in enumerate("abacdeb")]
    decisions = decide(requests)

    rows = dict(Participation.objects.values_list("request_id", "coupon_code"))
    assert Counter(d.status for d in decisions) == {"SUCCESS": 3, "SOLD_OUT": 2, "DUPLICATE": 2}
    for d in decisions:
        assert (d.coupon_code is not None) == (d.status == "SUCCESS")
        assert rows[d.request.request_id] == d.coupon_code
    assert all(coupon_code_read(d.coupon_code) for d in decisions if d.coupon_code)
    # A redelivered request is answered with the code it was given, not a new one.
    assert [d.coupon_code for d in decide(requests)] == [d.coupon_code for d in decisions]


@pytest.mark.django_db
def test_a_big_batch_gives_every_winner_its_own_code():
    campaign = CampaignFactory(total_stock=5000)
    decide_batch([participation_request(campaign, f"user-{i}", offset=i) for i in range(6000)])
    codes = list(Participation.objects.filter(status="SUCCESS").values_list("coupon_code", flat=True))
    assert len(codes) == 5000 and len(set(codes)) == 5000 and None not in codes
    assert not Participation.objects.exclude(status="SUCCESS").exclude(coupon_code=None).exists()


@pytest.mark.django_db
def test_a_decided_batch_does_no_query_per_winner():
    def queries(winners):
        campaign = CampaignFactory(total_stock=winners)
        requests = [participation_request(campaign, f"user-{i}", offset=i) for i in range(winners)]
        with CaptureQueriesContext(connection) as captured:
            decide_batch(requests)
        assert Participation.objects.filter(campaign=campaign).exclude(coupon_code=None).count() == winners
        return len(captured)

    assert queries(10) == queries(1000)


def code_given_twice(monkeypatch, taken):
    """The decision's code source, but its first code is `taken` (a code already given)."""
    real, calls = coupons.coupon_codes, []

    def codes(count):
        calls.append(count)
        fresh = real(count)
        return [taken, *fresh[1:]] if len(calls) == 1 and count else fresh
    monkeypatch.setattr(decision, "coupon_codes", codes)
    return calls


@pytest.mark.django_db
@pytest.mark.parametrize("decide, code_calls", [(decide_batch, 1), (decide_per_event, 5)], ids=["batch", "per-event"])
def test_a_code_given_twice_is_replaced_and_the_request_still_wins(decide, code_calls, monkeypatch):
    campaign = CampaignFactory(total_stock=10)
    [first] = decide([participation_request(campaign, "first")])
    calls = code_given_twice(monkeypatch, first.coupon_code)

    decisions = decide([participation_request(campaign, f"user-{i}", offset=i) for i in range(5)])

    assert len(calls) == code_calls + 1  # the insert failed on the code once and was decided again
    assert [d.status for d in decisions] == ["SUCCESS"] * 5
    codes = list(Participation.objects.values_list("coupon_code", flat=True))
    assert len(set(codes)) == 6 and first.coupon_code in codes
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 4  # the failed try's stock update was rolled back


@pytest.mark.django_db
def test_a_code_given_twice_leaves_the_consumer_nothing_to_isolate_or_dead_letter(monkeypatch):
    campaign = CampaignFactory(total_stock=10)
    [first] = decide_batch([participation_request(campaign, "first")])
    code_given_twice(monkeypatch, first.coupon_code)
    consumer = FirstComeConsumer(topic="unused", group_id="unused")

    result = consumer.process_isolating([participation_request(campaign, f"user-{i}", offset=i) for i in range(8)])

    assert result.rejected == {} and not result.isolated
    assert [d.status for d in result.value] == ["SUCCESS"] * 8


# --- the results endpoints --------------------------------------------------------------------

@pytest.mark.django_db
def test_results_show_the_winners_code_and_null_otherwise():
    campaign = CampaignFactory(total_stock=1)
    won, lost = decide_batch([participation_request(campaign, "winner"), participation_request(campaign, "late")])
    api = ParticipantClient()

    for d, code in ((won, won.coupon_code), (lost, None)):
        as_owner = as_user(d.request.user_id)
        assert api.get(f"/api/participations/{d.request.request_id}", **as_owner).json()["coupon_code"] == code
        by_user = api.get(f"/api/campaigns/{campaign.pk}/participations/{d.request.user_id}").json()
        assert by_user["status"] == d.status and by_user["coupon_code"] == code
    assert won.coupon_code


@pytest.mark.django_db
def test_a_pending_result_has_a_null_code():
    body = ParticipantClient().get(f"/api/participations/{new_request_id()}").json()
    assert body["status"] == "PENDING" and body["coupon_code"] is None


# --- redemption -------------------------------------------------------------------------------

@pytest.fixture
def staff_api(db):
    client = ParticipantClient()
    client.force_authenticate(staff_account("till", "till-pass", role="till"))
    return client


def redeem(api, code):
    return api.post(f"/api/admin/coupons/{code}/redeem")


def winner(campaign=None, user="winner"):
    return decide_batch([participation_request(campaign or CampaignFactory(), user)])[0]


def test_redeem_marks_the_coupon_used_once(staff_api):
    won = winner()
    first = redeem(staff_api, won.coupon_code)
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["coupon_code"], body["user_id"], body["request_id"]) == (
        won.coupon_code, "winner", str(won.request.request_id))
    assert Participation.objects.get(coupon_code=won.coupon_code).redeemed_at is not None

    again = redeem(staff_api, won.coupon_code)
    assert again.status_code == 409 and again.json()["code"] == "coupon_already_redeemed"
    assert again.json()["redeemed_at"] == body["redeemed_at"]


def test_redeem_reads_the_code_as_crockford_says(staff_api):
    code = winner().coupon_code
    typed = "-".join([code[:4], code[4:8], code[8:12], code[12:]]).lower().replace("0", "o").replace("1", "l")
    assert redeem(staff_api, typed).json()["coupon_code"] == code


def test_redeem_an_unknown_code_is_404(staff_api):
    response = redeem(staff_api, coupon_codes(1)[0])
    assert response.status_code == 404 and response.json()["code"] == "coupon_not_found"


@pytest.mark.parametrize("typo", ["swap", "substitute", "short", "alphabet"])
def test_redeem_a_mistyped_code_is_400_with_the_reason_before_any_lookup(staff_api, typo):
    code = winner().coupon_code
    i = next(i for i in range(LENGTH - 1) if code[i] != code[i + 1])
    typed = {"swap": code[:i] + code[i + 1] + code[i] + code[i + 2:],
             "substitute": code[:5] + ALPHABET[(ALPHABET.index(code[5]) + 1) % 32] + code[6:],
             "short": code[:-2], "alphabet": "U" + code[1:]}[typo]
    with CaptureQueriesContext(connection) as captured:
        response = redeem(staff_api, typed)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "coupon_code_invalid" and response.json()["detail"]
    assert not [q for q in captured if "participation" in q["sql"]]
    assert Participation.objects.get(coupon_code=code).redeemed_at is None


def test_redemptions_show_on_the_campaigns_dashboard_snapshot(staff_api):
    campaign, other = CampaignFactory(total_stock=5), CampaignFactory()
    codes = [winner(campaign, f"u{i}").coupon_code for i in range(3)]
    redeem(staff_api, winner(other).coupon_code)  # another campaign's redemption is not counted
    manager = ParticipantClient()  # the till redeems; a manager watches the dashboard
    manager.force_authenticate(staff_account("manager", role="manager"))
    snapshot = lambda: manager.get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}").json()  # noqa: E731
    assert snapshot()["redeemed"] == 0
    for code in codes[:2]:
        redeem(staff_api, code)
    redeem(staff_api, codes[0])  # a second redemption of one coupon counts once
    assert snapshot()["redeemed"] == 2


@pytest.mark.django_db
def test_a_campaigns_redeemed_count_reads_only_its_redeemed_entries():
    """The dashboard asks every second per viewer: the count is one range of the (campaign,
    redeemed_at) index, not every campaign's redemptions nor the campaign's winners."""
    campaign, busy = CampaignFactory(total_stock=30), CampaignFactory(total_stock=60)
    won = [winner(campaign, f"u{i}") for i in range(30)]
    for w in won[:4]:
        coupon_redeem(typed_code=w.coupon_code)
    for i in range(60):
        coupon_redeem(typed_code=winner(busy, f"b{i}").coupon_code)
    count, read = entries_read(lambda: coupons_redeemed(campaign.pk))
    assert count == 4
    assert read <= 4 + 2, f"{read} entries read for 4 redeemed coupons"


@pytest.mark.django_db
def test_redeem_is_for_staff_only():
    code = winner().coupon_code
    assert redeem(ParticipantClient(), code).status_code in (401, 403)
    user = ParticipantClient()
    user.force_authenticate(User.objects.create_user("someone", password="p"))
    assert redeem(user, code).status_code == 403
    assert Participation.objects.get(coupon_code=code).redeemed_at is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_on_mariadb_exactly_one_wins():
    staff = staff_account("till", "till-pass", role="till")
    code = winner().coupon_code
    threads, start, answers = 16, threading.Barrier(16), []

    def till():
        client = ParticipantClient()
        client.force_authenticate(staff)
        try:
            start.wait()
            response = redeem(client, code)
            answers.append((response.status_code, response.json().get("redeemed_at")))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=till) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert Counter(status for status, _ in answers) == {200: 1, 409: threads - 1}
    assert len({when for _, when in answers}) == 1  # every 409 says when the one 200 redeemed it
