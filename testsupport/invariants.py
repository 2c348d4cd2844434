"""THE invariant checker, run after every fault scenario and the adversarial run."""
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count

from campaigns import selectors
from campaigns.models import Campaign, Participation
from streaming.topics import committed_offsets


@dataclass
class InvariantReport:
    issued: int
    total_stock: int
    remaining_stock: int
    decided: int
    outcomes: dict
    committed: dict
    violations: list = field(default_factory=list)

    def summary(self):
        return (f"{self.decided} decided ({', '.join(f'{k} {v}' for k, v in sorted(self.outcomes.items()))}), "
                f"issued {self.issued} of {self.total_stock}, committed offsets {self.committed}, "
                f"violations: {self.violations or 'none'}")


def committed_offset_violations(group_id, topic, dead_lettered=()):
    """Partitions whose committed offset runs ahead of the database: for a committed offset c,
    every record below c must have its participation row (or be in the dead-letter topic)."""
    violations = []
    for partition, committed in sorted(committed_offsets(group_id, topic).items()):
        recorded = set(Participation.objects.filter(topic=topic, partition=partition, offset__lt=committed)
                       .values_list("offset", flat=True))
        recorded.update(offset for p, offset in dead_lettered if p == partition)
        missing = committed - len(recorded & set(range(committed)))
        if missing:
            first = min(set(range(committed)) - recorded)
            violations.append(f"partition {partition}: offset {committed} committed but {missing} record(s) "
                              f"below it have no row, the first at {first}")
    return violations


def check_invariants(campaign, published, *, group_id=None, topic=None, dead_lettered=(),
                     extra_requesters=()):
    """THE invariants, after any scenario; returns the report, raises AssertionError listing every
    violation.

    - issued coupons = total_stock - remaining_stock <= total_stock;
    - no user holds two coupons (or two decisions) for the campaign;
    - every request of `published` (the 202s) has exactly one outcome, and every decided request
      was sent by someone: every decided user, winners included, is a requester (`extra_requesters`: users whose
      request was answered 503 but may still have reached the broker);
    - the group's committed offsets never run ahead of what the database committed.
    """
    group_id = group_id or settings.FIRSTCOME_GROUP_ID
    topic = topic or settings.FIRSTCOME_TOPIC
    campaign = Campaign.objects.get(pk=campaign.pk)
    rows = Participation.objects.filter(campaign=campaign)
    outcomes = selectors.outcome_counts(campaign.pk)
    issued = outcomes["SUCCESS"]
    violations = []

    if issued != campaign.total_stock - campaign.remaining_stock:
        violations.append(f"{issued} SUCCESS rows but the stock moved by {campaign.total_stock - campaign.remaining_stock}")
    if issued > campaign.total_stock:
        violations.append(f"oversold: {issued} coupons for a stock of {campaign.total_stock}")
    several = selectors.users_with_several_coupons(campaign.pk)
    if several:
        violations.append(f"{several} user(s) hold more than one coupon")
    several_decisions = (rows.filter(is_decision=True).values("user_id").annotate(n=Count("id"))
                         .filter(n__gt=1).count())
    if several_decisions:
        violations.append(f"{several_decisions} user(s) have more than one decision")

    decided = {str(rid): user for rid, user in rows.values_list("request_id", "user_id")}
    per_request = rows.values("request_id").annotate(n=Count("id")).filter(n__gt=1).count()
    if per_request:
        violations.append(f"{per_request} request(s) decided more than once")
    undecided = published.request_ids - set(decided)
    if undecided:
        violations.append(f"{len(undecided)} accepted request(s) never decided, e.g. {sorted(undecided)[:3]}")
    wrong_user = [rid for rid, user in decided.items()
                  if rid in published.users_by_request and published.users_by_request[rid] != user]
    if wrong_user:
        violations.append(f"{len(wrong_user)} request(s) decided for another user")
    requesters = published.users | set(extra_requesters)
    strangers = {user for user in decided.values() if user not in requesters}
    if strangers:
        violations.append(f"{len(strangers)} decided user(s) never sent a request, e.g. {sorted(strangers)[:3]}")

    violations += committed_offset_violations(group_id, topic, dead_lettered)
    report = InvariantReport(issued=issued, total_stock=campaign.total_stock,
                             remaining_stock=campaign.remaining_stock, decided=len(decided),
                             outcomes=outcomes, committed=committed_offsets(group_id, topic),
                             violations=violations)
    print(f"invariants: {report.summary()}")  # shown with -s, and in docs/guarantees.md's table
    assert not violations, report.summary()
    return report
