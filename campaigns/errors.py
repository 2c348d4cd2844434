"""Domain errors raised by services, and their HTTP answer: status, JSON body and headers.

The answer is defined here, below every layer that sends it: DRF's exception handler
(campaign_site.exceptions) and the participation fast path (campaigns.ingest) both use it.
"""
from django.utils import timezone


class DomainError(Exception):
    """A refusal with its answer. A subclass names its answer in its class line:
    `class CampaignNotFound(DomainError, http_status=404, code="campaign_not_found")`."""

    http_status = 400
    code = "error"
    retry_after = None

    def __init_subclass__(cls, *, http_status=None, code=None, retry_after=None, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, value in (("http_status", http_status), ("code", code), ("retry_after", retry_after)):
            if value is not None:
                setattr(cls, name, value)

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"detail": self.message, "code": self.code}

    def headers(self) -> dict:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class CampaignNotFound(DomainError, http_status=404, code="campaign_not_found"):
    """No campaign has this id."""


class CampaignNotOpen(DomainError, http_status=409, code="campaign_not_open"):
    """The campaign has not started yet, or has ended (or was closed)."""


class CampaignChangedMeanwhile(DomainError, http_status=409, code="campaign_changed"):
    """An edit made against what a page showed would leave the campaign, as it is now, invalid."""


class CampaignSoldOut(DomainError, http_status=409, code="sold_out"):
    """No stock is left and none comes back (the stock guard): refused at once, nothing queued."""


class NotYourUserId(DomainError, http_status=403, code="not_your_user_id"):
    """A body's user id that is not the one the credential proves (campaigns.participants)."""


class TooManyWaiters(DomainError, http_status=503, code="too_many_waiters", retry_after=1):
    """A web process holds at most FIRSTCOME_RESULTS_MAX_WAITERS long polls (campaigns.answers)."""


class DatabaseUnavailable(DomainError, http_status=503, code="database_unavailable", retry_after=5):
    """The database could not be read and nothing known may stand in for it."""


class BatchRunInProgress(DomainError, http_status=409, code="batch_run_in_progress"):
    """A statistics batch run is going on: one at a time."""


class BrokerUnavailable(DomainError, http_status=503, code="broker_unavailable", retry_after=1):
    """The request could not be handed to Kafka: it was not accepted and will not be decided."""


class UnknownStrategy(DomainError, code="unknown_strategy"):
    """A synchronous baseline (the lab) was asked for a strategy it does not have."""


class ExperimentsDisabled(DomainError, http_status=404, code="experiments_disabled"):
    """The synchronous experiment endpoints are off (settings.FIRSTCOME_EXPERIMENT_ENDPOINTS)."""


class LoopbackOnly(DomainError, http_status=403, code="loopback_only"):
    """A lab endpoint asked from anywhere but this machine."""


class CouponCodeMistyped(DomainError, code="coupon_code_invalid"):
    """Refused before any lookup: not the alphabet, not the length, or a check character that
    does not match (campaigns.coupons)."""


class CouponNotFound(DomainError, http_status=404, code="coupon_not_found"):
    """A well-formed coupon code that no winner holds."""


class CouponAlreadyRedeemed(DomainError, http_status=409, code="coupon_already_redeemed"):
    """Redeemed before, or by a concurrent request: the answer says when."""

    def __init__(self, message, *, redeemed_at):
        super().__init__(message)
        self.redeemed_at = redeemed_at

    def body(self) -> dict:
        # In TIME_ZONE, as the API writes every other time.
        return {**super().body(), "redeemed_at": timezone.localtime(self.redeemed_at).isoformat()}
