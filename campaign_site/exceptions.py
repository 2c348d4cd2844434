"""One place that turns domain errors into HTTP answers, so views stay thin and every error has a
JSON body with a human reason and a machine code."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from campaigns.errors import DatabaseUnavailable, DomainError
from identity.drf import InvalidApiToken
from streaming import database_errors


def exception_handler(exc, context):
    if database_errors.kind(exc) == database_errors.DATABASE:  # the server's condition: retry
        exc = DatabaseUnavailable("the database is unavailable; retry")
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.http_status, headers=exc.headers())
    if isinstance(exc, DjangoValidationError):  # a model's full_clean() inside a service
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, (AuthenticationFailed, NotAuthenticated, InvalidApiToken)):
        response.data = {"detail": str(exc.detail), "code": exc.detail.code}  # as the fast path's 401
        if isinstance(exc, InvalidApiToken):
            response["WWW-Authenticate"] = 'Token realm="firstcome"'

    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        # DRF names each bad field; keep that and add a one-line summary.
        if isinstance(response.data, dict) and "detail" not in response.data:
            fields = ", ".join(sorted(response.data))
            response.data = {"detail": f"invalid request body: {fields}", "code": "invalid",
                             "errors": response.data}
    return response
