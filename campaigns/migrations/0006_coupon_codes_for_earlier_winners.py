"""Coupon codes for the winners decided before 0005: every SUCCESS carries one.

In pages by id, one UPDATE per row, each page in its own transaction, so a large table is not
locked as a whole; the consumer may run meanwhile (new winners get their codes in the decision).
A code already given (75 random bits: in theory only) fails the unique key, and that page is
given new codes. Reversing leaves the codes: they were handed out and may be printed already.
"""
from django.db import IntegrityError, migrations, transaction

PAGE = 1000


def give_codes(apps, schema_editor):
    from campaigns.coupons import coupon_codes  # a pure function: the codes, no model

    Participation = apps.get_model("campaigns", "Participation")
    using = schema_editor.connection.alias
    last = 0
    while True:
        ids = list(Participation.objects.using(using)
                   .filter(status="SUCCESS", coupon_code__isnull=True, id__gt=last)
                   .order_by("id").values_list("id", flat=True)[:PAGE])
        if not ids:
            return
        for attempt in range(3):
            try:
                with transaction.atomic(using=using):
                    for pk, code in zip(ids, coupon_codes(len(ids))):
                        Participation.objects.using(using).filter(pk=pk, coupon_code__isnull=True).update(
                            coupon_code=code)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        last = ids[-1]


class Migration(migrations.Migration):
    atomic = False  # each page commits on its own
    dependencies = [("campaigns", "0005_coupon_code")]
    operations = [migrations.RunPython(give_codes, migrations.RunPython.noop)]
