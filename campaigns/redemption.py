"""Redeeming a coupon at the till: exactly once, whoever asks at the same moment.

The one write is the conditional UPDATE
    UPDATE participation SET redeemed_at = now WHERE coupon_code = ? AND redeemed_at IS NULL
which the database runs one at a time on the row: of any number of concurrent redemptions of a
code exactly one changes it (campaigns/tests/test_coupons.py). A typed code is read first
(campaigns.coupons): a mistyped one is refused before any query.
"""
from django.utils import timezone

from campaigns import selectors
from campaigns.coupons import CouponCodeInvalid, coupon_code_read
from campaigns.errors import CouponAlreadyRedeemed, CouponCodeMistyped, CouponNotFound
from campaigns.models import Participation


def coupon_redeem(*, typed_code: str) -> dict:
    """Mark the coupon used now; returns its participation as selectors.coupon_get does.
    CouponCodeMistyped (400), CouponNotFound (404), CouponAlreadyRedeemed (409, with when)."""
    try:
        code = coupon_code_read(typed_code)
    except CouponCodeInvalid as exc:
        raise CouponCodeMistyped(str(exc)) from None
    redeemed = (Participation.objects.filter(coupon_code=code, redeemed_at__isnull=True)
                .update(redeemed_at=timezone.now()))
    coupon = selectors.coupon_get(code)  # nothing un-redeems a coupon: read after is exact
    if coupon is None:
        raise CouponNotFound(f"no coupon {code}")
    if not redeemed:
        raise CouponAlreadyRedeemed(f"coupon {code} was already redeemed", redeemed_at=coupon["redeemed_at"])
    return coupon
