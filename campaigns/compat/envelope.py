"""The original contract's answer envelope: {"success", "message", "errorCode", "data"}.

An error keeps firstcome's own error fields beside it ("detail", "code", and "errors" for a bad
body): a client of the original reads `success` and `message`, one of firstcome reads `detail`,
and every 4xx of the site says why in the same field."""
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings

# The original's error codes where it had the same error; firstcome's own code otherwise.
ORIGINAL_ERROR_CODES = {
    "invalid": "COMMON_002",
    "parse_error": "COMMON_002",
    "campaign_not_found": "CAMPAIGN_001",
    "campaign_not_open": "CAMPAIGN_004",
    "sold_out": "CAMPAIGN_003",
    "broker_unavailable": "KAFKA_001",
}


def success(message: str, data=None) -> dict:
    return {"success": True, "message": message, "errorCode": None, "data": data}


def failure(error_body: dict) -> dict:
    """The envelope of an error answer, from firstcome's error body {"detail", "code", ...}."""
    code = error_body.get("code", "error")
    return {"success": False, "message": str(error_body.get("detail", "")),
            "errorCode": ORIGINAL_ERROR_CODES.get(code, code), "data": None, **error_body}


def exception_handler(exc, context):
    """The site's exception handler (the one answer of every error), its body enveloped."""
    response = api_settings.EXCEPTION_HANDLER(exc, context)
    if response is not None and isinstance(response.data, dict):
        body = dict(response.data)
        if "code" not in body and isinstance(exc, APIException):
            codes = exc.get_codes()
            body["code"] = codes if isinstance(codes, str) else exc.default_code
        response.data = failure(body)
    return response
