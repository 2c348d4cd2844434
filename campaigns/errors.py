"""Domain errors raised by services, and their HTTP answer: status, JSON body and headers.

The answer is defined here, below every layer that sends it: DRF's exception handler
(campaign_site.exceptions) and the participation fast path (campaigns.ingest) both use it.
"""
from django.utils import timezone


class DomainError(Exception):
    http_status = 400
    code = "error"
    retry_after = None

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"detail": self.message, "code": self.code}

    def headers(self) -> dict:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class CampaignNotFound(DomainError):
    http_status = 404
    code = "campaign_not_found"


class CampaignNotOpen(DomainError):
    http_status = 409
    code = "campaign_not_open"


class CampaignSoldOut(DomainError):
    """No stock is left and none comes back (the stock guard): refused at once, nothing queued."""

    http_status = 409
    code = "sold_out"


class TooManyWaiters(DomainError):
    """A web process holds at most FIRSTCOME_RESULTS_MAX_WAITERS long polls (campaigns.answers)."""

    http_status = 503
    code = "too_many_waiters"
    retry_after = 1


class BrokerUnavailable(DomainError):
    """The request could not be handed to Kafka: it was not accepted and will not be decided."""

    http_status = 503
    code = "broker_unavailable"
    retry_after = 1


class UnknownStrategy(DomainError):
    code = "unknown_strategy"


class ExperimentsDisabled(DomainError):
    """The synchronous experiment endpoints are off (settings.FIRSTCOME_EXPERIMENT_ENDPOINTS)."""

    http_status = 404
    code = "experiments_disabled"


class LoopbackOnly(DomainError):
    http_status = 403
    code = "loopback_only"


class CouponCodeMistyped(DomainError):
    """Refused before any lookup: not the alphabet, not the length, or a check character that
    does not match (campaigns.coupons)."""

    code = "coupon_code_invalid"


class CouponNotFound(DomainError):
    http_status = 404
    code = "coupon_not_found"


class CouponAlreadyRedeemed(DomainError):
    http_status = 409
    code = "coupon_already_redeemed"

    def __init__(self, message, *, redeemed_at):
        super().__init__(message)
        self.redeemed_at = redeemed_at

    def body(self) -> dict:
        # In TIME_ZONE, as the API writes every other time.
        return {**super().body(), "redeemed_at": timezone.localtime(self.redeemed_at).isoformat()}
