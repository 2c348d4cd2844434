"""One identity for a user id: the same string byte for byte, on every path and engine.

Look-alike ids (padding, case, Unicode normal forms, full-width forms, invisible characters,
combining marks) are different users for the per-event decision, the batched decision, the
lookups, the stats store and the unique decision key alike; on MariaDB, and on SQLite through
test_sqlite_gives_the_same_outcomes, which runs this module again on a SQLite database.
"""
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from campaigns import selectors, services
from campaigns.identity import byte_exact_collation
from campaigns.messages import DECISION_EVENT_FIELDS, MAX_USER_ID_LENGTH, decision_event_row
from campaigns.models import Participation
from campaigns.serializers import USER_ID_FIELD
from testsupport.factories import CampaignFactory, participation_request
from testsupport.identity import ParticipantClient
from stats.consumers import stored_event
from stats.models import DecisionEvent
from stats.services import decision_events_store

pytestmark = pytest.mark.django_db
MYSQL_ONLY = set()  # what test_sqlite_gives_the_same_outcomes leaves out of its SQLite run


def mysql_only(test):
    MYSQL_ONLY.add(test.__name__)
    return pytest.mark.skipif("connection.vendor != 'mysql'", reason="MySQL/MariaDB only")(test)


# --- the corpus: look-alikes of a few ids ---------------------------------------------------
BASES = ["alice", "Bob", "team/alice", "José", "Ångström", "김민수", "ﬁle", "Straße"]
PADDING = [" ", "\t", "\n", "\x00", "\u00a0", "\u2003", "\u3000"]  # space, tab, NUL, NBSP, em, ideographic
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u115f", "\u3164", "\ufe0f"]
COMBINING = ["\u0301", "\u0308", "\u0327", "\u20dd"]
FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def _one_edit(s):
    at = st.integers(0, len(s))
    return st.one_of(
        st.sampled_from(PADDING).map(lambda c: s + c),
        st.sampled_from(PADDING).map(lambda c: c + s),
        st.sampled_from([s.upper(), s.lower(), s.swapcase(), s.casefold(), s.translate(FULL_WIDTH)]),
        st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]).map(lambda form: unicodedata.normalize(form, s)),
        st.tuples(at, st.sampled_from(INVISIBLE + COMBINING)).map(lambda t: s[:t[0]] + t[1] + s[t[0]:]),
    )


def _edited(s, edits):
    return st.just(s) if edits == 0 else _one_edit(s).flatmap(lambda t: _edited(t, edits - 1))


@st.composite
def look_alikes(draw, *, printable_only=False):
    """A base id and a few look-alikes of it (equal strings included: they are one user)."""
    base = draw(st.sampled_from(BASES))
    family = [base] + draw(st.lists(st.integers(1, 3).flatmap(lambda n: _edited(base, n)), min_size=1, max_size=6))
    return [u for u in family if 0 < len(u) <= MAX_USER_ID_LENGTH and (u.isprintable() or not printable_only)]


def byte_exact_model(user_ids, stock):
    """First come, first served, where distinct strings are distinct users."""
    seen, outcomes = set(), []
    for user_id in user_ids:
        key = user_id.encode()
        if key in seen:
            outcomes.append("DUPLICATE")
        else:
            seen.add(key)
            outcomes.append("SUCCESS" if stock > 0 else "SOLD_OUT")
            stock -= stock > 0
    return outcomes


# --- helpers --------------------------------------------------------------------------------

def decide_in_batches(stream, cuts):
    decisions, start = [], 0
    for end in sorted({*cuts, len(stream)}):
        if start < end <= len(stream):
            with transaction.atomic():
                decisions += services.participations_decide_batch(stream[start:end])
            start = end
    return decisions


def what_the_database_says(campaign, family, decisions):
    """Outcomes, then what every lookup answers for each look-alike: the decision selector, the
    batch's decided-users selector, and the stats store fed with the decision events."""
    decision_events_store([stored_event(dict(zip(DECISION_EVENT_FIELDS, decision_event_row(d))))
                           for d in decisions])
    decided = selectors.users_with_decisions(campaign.pk, family)
    lookups = {}
    for user_id in family:
        row = selectors.user_decision_get(campaign.pk, user_id)
        events = list(DecisionEvent.objects.filter(campaign_id=campaign.pk, user_id=user_id)
                      .order_by("offset").values_list("user_id", "status"))
        lookups[user_id] = (row and (row["user_id"], row["status"]), user_id in decided, events)
    return [d.status for d in decisions], lookups


def expected_lookups(family, user_ids, outcomes):
    expected = {}
    for user_id in family:
        statuses = [s for u, s in zip(user_ids, outcomes) if u == user_id]
        expected[user_id] = ((user_id, statuses[0]) if statuses else None, bool(statuses),
                             [(user_id, s) for s in statuses])
    return expected


def in_savepoint(work):
    with transaction.atomic():
        result = work()
        transaction.set_rollback(True)
    return result


# --- the property: both decision paths are the byte-exact model -----------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(family=look_alikes(), data=st.data(), stock=st.integers(0, 5), cuts=st.lists(st.integers(1, 20), max_size=4))
def test_look_alikes_get_the_byte_exact_outcomes_on_both_paths(family, data, stock, cuts):
    user_ids = data.draw(st.lists(st.sampled_from(family), min_size=1, max_size=20), label="stream")
    campaign = CampaignFactory(total_stock=5, remaining_stock=stock)
    stream = [participation_request(campaign, u, offset=i) for i, u in enumerate(user_ids)]
    outcomes = byte_exact_model(user_ids, stock)
    expected = (outcomes, expected_lookups(family, user_ids, outcomes))

    one_at_a_time = in_savepoint(lambda: what_the_database_says(
        campaign, family, [services.participation_decide(r) for r in stream]))
    batched = in_savepoint(lambda: what_the_database_says(campaign, family, decide_in_batches(stream, cuts)))

    assert one_at_a_time == expected
    assert batched == expected


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(family=look_alikes(printable_only=True).filter(lambda f: len(f) > 1))
@example(family=["team/alice", "team/alice ", "team/Alice", "team%2Falice"])
def test_the_decision_endpoint_answers_each_look_alike_with_its_own_decision(family):
    """GET /api/campaigns/{id}/participations/{user_id}: each id its own row, an undecided
    look-alike of a decided id 404."""
    campaign = CampaignFactory(total_stock=5)
    decided, undecided = family[:-1], [u for u in family[-1:] if u not in family[:-1]]
    expected = byte_exact_model(decided, campaign.remaining_stock)

    def answers():
        decide_in_batches([participation_request(campaign, u, offset=i) for i, u in enumerate(decided)], [])
        api = ParticipantClient()
        return {u: api.get(f"/api/campaigns/{campaign.pk}/participations/{quote(u, safe='')}")
                for u in decided + undecided}

    responses = in_savepoint(answers)
    for user_id, outcome in zip(decided, expected):
        if outcome != "DUPLICATE":
            response = responses[user_id]
            assert response.status_code == 200, (user_id, response.content)
            assert (response.json()["user_id"], response.json()["status"]) == (user_id, outcome)
    for user_id in undecided:
        assert responses[user_id].status_code == 404, user_id


# --- the regression: "alice" and "alice " -----------------------------------------------------

def two_successes(campaign):
    return sorted(Participation.objects.filter(campaign=campaign, status="SUCCESS").values_list("user_id", flat=True))


def test_alice_and_alice_space_in_one_batch_are_two_winners():
    campaign = CampaignFactory(total_stock=5)
    with transaction.atomic():
        decisions = services.participations_decide_batch(
            [participation_request(campaign, "alice"), participation_request(campaign, "alice ", offset=1)])
    assert [d.status for d in decisions] == ["SUCCESS", "SUCCESS"]
    assert two_successes(campaign) == ["alice", "alice "]


def test_alice_and_alice_space_across_two_batches_are_two_winners():
    campaign = CampaignFactory(total_stock=5)
    for offset, user_id in enumerate(["alice", "alice "]):
        with transaction.atomic():
            [decision] = services.participations_decide_batch([participation_request(campaign, user_id, offset=offset)])
        assert decision.status == "SUCCESS"
    assert two_successes(campaign) == ["alice", "alice "]


def test_alice_and_alice_space_one_at_a_time_are_two_winners():
    campaign = CampaignFactory(total_stock=5)
    statuses = [services.participation_decide(participation_request(campaign, u, offset=i)).status
                for i, u in enumerate(["alice", "alice "])]
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert two_successes(campaign) == ["alice", "alice "]


# --- the schema and the shared validation ----------------------------------------------------

@mysql_only
def test_every_user_id_column_has_the_byte_exact_collation():
    collation = byte_exact_collation(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT TABLE_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME LIKE %s AND COLLATION_NAME IS NOT NULL",
                       ["%user%id%"])
        columns = dict(cursor.fetchall())
        cursor.execute(f"SELECT 'alice' = 'alice ' COLLATE {collation}, 'a' = 'A' COLLATE {collation}")
        pads_or_folds = cursor.fetchone()
    assert columns == {"participation": collation, "decision_event": collation}
    assert pads_or_folds == (0, 0)


@pytest.mark.parametrize("server, collation", [
    (dict(vendor="mysql", mysql_is_mariadb=True, mysql_version=(10, 11, 0)), "utf8mb4_nopad_bin"),
    (dict(vendor="mysql", mysql_is_mariadb=False, mysql_version=(8, 4, 0)), "utf8mb4_0900_bin"),
    (dict(vendor="mysql", mysql_is_mariadb=False, mysql_version=(8, 0, 16)), ImproperlyConfigured),
    (dict(vendor="sqlite"), None),
])
def test_the_collation_chosen_for_each_server(server, collation):
    """Only the name is chosen here: MySQL 8 itself is not available to these tests."""
    if collation is ImproperlyConfigured:
        with pytest.raises(ImproperlyConfigured, match="8.0.17"):
            byte_exact_collation(SimpleNamespace(**server))
    else:
        assert byte_exact_collation(SimpleNamespace(**server)) == collation


@settings(max_examples=200, deadline=None)
@given(user_id=st.text(min_size=1, max_size=MAX_USER_ID_LENGTH))
def test_the_shared_user_id_field_keeps_printable_ids_verbatim_and_refuses_the_rest(user_id):
    """The one field the Django view and the ASGI fast path validate with: an id is taken exactly
    as sent (no trimming or normalisation), or refused with a reason if it holds a control, format,
    separator (the plain space excepted), private-use, unassigned or surrogate character."""
    if user_id.isprintable():
        assert USER_ID_FIELD.run_validation(user_id) == user_id
    else:
        position, char = next((i, c) for i, c in enumerate(user_id) if not c.isprintable())
        with pytest.raises(ValidationError) as refused:
            USER_ID_FIELD.run_validation(user_id)
        reason = rf"must not contain .*: U\+{ord(char):04X} at position {position}"
        assert any(re.fullmatch(reason, r) for r in refused.value.detail), refused.value.detail


# --- SQLite ---------------------------------------------------------------------------------

@mysql_only
def test_sqlite_gives_the_same_outcomes(tmp_path):
    """Every other test of this module, run again on a fresh SQLite database: the same
    byte-exact model and the same regression outcomes hold there too."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'identity.sqlite3'}"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-k", " and ".join(f"not {t}" for t in MYSQL_ONLY)],
        cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=300)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # Exit status 0 and nothing skipped: everything but the MySQL-only tests ran and passed.
    assert re.fullmatch(rf"\d+ passed, {len(MYSQL_ONLY)} deselected(, \d+ warnings?)? in .*", summary), summary
