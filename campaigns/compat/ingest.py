"""The original contract's participation POST (/api/campaigns/<id>/participation {"userId"}) on
the fast path: a campaigns.ingest.Route, so the request is checked, throttled, published and
acknowledged by the very code that answers the native one, on the event loop. Only the body's
field and the answer's shape differ; both come from this package (USER_ID_FIELD, the envelope), so
the fast path and campaigns.compat.views.ParticipationView answer alike
(campaigns/compat/tests/test_compat_fast_path.py compares them).

The view's DRF classes are checked when the route is built (the server's start), as the native
adapter checks its own (campaigns.ingest.WRITTEN_AGAINST): a class changed in the view without the
route following it stops the server instead of answering two ways."""
import re

import orjson
from django.urls import resolve

from campaigns import ingest
from campaigns.compat import envelope
from campaigns.compat.serializers import USER_ID_FIELD
from campaigns.compat.views import accepted_message

PATH = re.compile(r"/api/campaigns/([0-9]+)/participation")

# The native view's classes (the native adapter checks the site-wide ones), but the throttle that
# reads userId and the envelope's exception handler.
WRITTEN_AGAINST = {
    "view": "campaigns.compat.views.ParticipationView",
    **{name: ingest.WRITTEN_AGAINST[name] for name in (
        "view.parser_classes", "view.renderer_classes", "view.content_negotiation_class",
        "view.authentication_classes", "view.permission_classes")},
    "view.throttle_classes": ("campaigns.compat.views.OriginalParticipationThrottle",),
    "view.exception_handler": "campaigns.compat.envelope.exception_handler",
}


def mirrored_configuration() -> dict:
    view = resolve("/api/campaigns/1/participation").func.view_class
    return {**ingest.view_configuration(view),
            "view.exception_handler": ingest.dotted_name(view().get_exception_handler())}


def original_route() -> ingest.Route:
    """The route to pass to ParticipationIngest; ImproperlyConfigured if the view has changed."""
    ingest.check_against(WRITTEN_AGAINST, mirrored_configuration(),
                         "the original contract's fast path (campaigns/compat/ingest.py) mirrors a view that has changed")
    # The acceptance rendered once around a marker, the request id put in its place per request.
    before, after = orjson.dumps(envelope.success(accepted_message("\0"))).split(b"\\u0000")
    return ingest.Route(
        PATH, lambda data: ingest.body_user(data, "userId", USER_ID_FIELD),
        lambda request_id: (200, b"%s%s%s" % (before, str(request_id).encode(), after)),
        lambda exc: orjson.dumps(envelope.failure(exc.body())))
