"""What gunicorn serves (gunicorn.conf.py: uvicorn workers): the participation fast path on the
event loop (campaigns/ingest.py), and the Django application for everything else.

Django runs as the WSGI application it has always been, on a pool of GUNICORN_THREADS threads per
worker (a2wsgi): its views, middleware and database connections behave exactly as under
gunicorn's threaded workers. Django's own ASGI handler would run every synchronous view and
middleware on one thread per process, serialising the result lookups that clients poll.
"""
import os

from a2wsgi import WSGIMiddleware

from campaign_site.access_log import AccessLog
from campaign_site.wsgi import application as django_application
from campaigns.ingest import ParticipationIngest

# Set by gunicorn.conf.py's on_starting; the default is for a server started without it.
DJANGO_THREADS = int(os.environ.get("GUNICORN_THREADS", 24))



def build_application():
    """The served application. Raises ImproperlyConfigured if the configuration the fast path
    mirrors has changed (campaigns.ingest.WRITTEN_AGAINST): the server does not start."""
    application = ParticipationIngest(WSGIMiddleware(django_application, workers=DJANGO_THREADS))
    return AccessLog(application) if os.environ.get("GUNICORN_ACCESS_LOG") else application


application = build_application()
