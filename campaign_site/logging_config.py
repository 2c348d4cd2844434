"""The logging configuration of every process: Django's (settings.LOGGING) and gunicorn's master
(gunicorn.conf.py), so one log line looks the same whichever wrote it.

Plain text on stderr for a developer; in production one JSON object per line on stdout, which
journald and the CloudWatch agent ship as they are (docs/operations.md).
"""
import copy

PLAIN_FORMATTER = {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"}
# The fields of a JSON line: level, logger, process, thread, message, and an ISO 8601 UTC timestamp.
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "{levelname}{name}{process}{threadName}{message}",
    "style": "{",
    "rename_fields": {"levelname": "level", "name": "logger", "threadName": "thread"},
    "timestamp": True,
}


def _handlers(*, json: bool) -> tuple[dict, dict, str]:
    """(formatters, handlers, the handler's name) for plain text on stderr or JSON on stdout;
    copies, as logging.config may alter what it is given."""
    if json:
        return ({"json": copy.deepcopy(JSON_FORMATTER)},
                {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
                "stdout")
    return ({"plain": dict(PLAIN_FORMATTER)},
            {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "console")


def _config(*, json: bool, root_level: str, loggers) -> dict:
    formatters, handlers, handler = _handlers(json=json)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": handlers,
        "root": {"handlers": [handler], "level": root_level},
        "loggers": loggers(handler),
    }


def django_logging(*, level: str, kafka_level: str, json: bool) -> dict:
    """settings.LOGGING. kafka-python gets its own level: it is chatty below WARNING."""
    return _config(json=json, root_level=level, loggers=lambda handler: {
        "kafka": {"level": kafka_level},
        "django.db.backends": {"level": "INFO"},
    })


def gunicorn_json_logging(*, error_level: str) -> dict:
    """gunicorn's logconfig_dict: its error log and the access log (campaign_site/access_log.py)
    as JSON lines on stdout, the same lines as Django's."""
    return _config(json=True, root_level="INFO", loggers=lambda handler: {
        "gunicorn.error": {"handlers": [handler], "level": error_level, "propagate": False},
        "gunicorn.access": {"handlers": [handler], "level": "INFO", "propagate": False},
    })
