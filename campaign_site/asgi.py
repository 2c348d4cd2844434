"""What gunicorn serves (gunicorn.conf.py: uvicorn workers): the participation fast path on the
event loop (campaigns/ingest.py), and the Django application for everything else.

Django runs as the WSGI application it has always been, on a pool of settings.WEB_THREADS threads
per worker (a2wsgi): its views, middleware and database connections behave exactly as under
gunicorn's threaded workers. Django's own ASGI handler would run every synchronous view and
middleware on one thread per process, serialising the result lookups that clients poll.
"""
import functools

from a2wsgi import WSGIMiddleware
from django.conf import settings

from campaign_site import server
from campaign_site.access_log import AccessLog
from campaign_site.environment import env
from campaign_site.wsgi import application as django_application
from campaigns.answers import ResultAnswers
from campaigns.compat.ingest import original_route
from campaigns.ingest import ParticipationIngest
from campaigns.refusals import sold_out_refusals
from campaigns.results_feed import DecisionFeed
from identity import participants

def build_results() -> ResultAnswers:
    """The result GETs' answers on the loop, fed by this process's reader of the decisions topic;
    the server's graceful stop answers their waiters at once."""
    feed = functools.partial(DecisionFeed, topic=settings.FIRSTCOME_DECISIONS_TOPIC,
                             bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                             lookback_messages=settings.FIRSTCOME_RESULTS_LOOKBACK_MESSAGES)
    results = ResultAnswers(cache_size=settings.FIRSTCOME_RESULTS_CACHE_SIZE,
                            max_waiters=settings.FIRSTCOME_RESULTS_MAX_WAITERS, feed_factory=feed)
    server.on_graceful_stop(results.release)
    server.on_graceful_stop(sold_out_refusals.flush_off_the_loop)  # what was counted since the last flush
    return results


def build_application():
    """The served application. Raises ImproperlyConfigured if the configuration the fast path
    mirrors has changed (campaigns.ingest.WRITTEN_AGAINST): the server does not start.
    Each layer wraps the one below: a route answered ahead of the stack wraps `application`."""
    if participants.jwt_mode():
        participants.verifier()  # its keys are read now, not by the event loop's first request
    django = WSGIMiddleware(django_application, workers=settings.WEB_THREADS)
    application = ParticipationIngest(django, results=build_results(), routes=(original_route(),))
    return AccessLog(application) if env.str("GUNICORN_ACCESS_LOG") else application


application = build_application()
