"""The gunicorn worker class (gunicorn.conf.py): uvicorn's, with a gentler graceful stop, one
that stops when its master is gone, and gunicorn's limits on a request's head.

uvicorn closes every idle kept-alive connection the moment a stop begins (a SIGHUP reload, a
restart). A request the client had already sent on such a connection then meets a closed socket:
"connection reset by peer", a lost request the client cannot tell from one that was processed
(seen in campaign_site/tests/test_gunicorn_reload.py: 2 of 481 requests over two reloads). Here an
idle connection stays open for DRAIN_S more: a request arriving on it is answered, with
"Connection: close", and the connection closes after the answer or at the end of the drain.
A client that keeps using its connection (the ALB, a load test) sends its next request well
within the drain and moves to a new worker after that answer; with a 1 s drain one request in
481 still met the close under the test suite's load. The drain stays well inside gunicorn's
graceful_timeout (20 s), after which the old worker is killed whatever it holds.

uvicorn has no limit on a request line or on header fields, and gunicorn's own limits
(limit_request_line, limit_request_fields, limit_request_field_size) apply only to its own parser:
here the protocol enforces them while httptools parses, and answers a JSON 414 or 431 before the
application sees anything (campaign_site/request_limits.py: HeadLimits).
"""
import os
import signal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from campaign_site.request_limits import DRAIN_AT_MOST, HeadLimits

DRAIN_S = 5.0
# After a refused head, what the client still sends is read and dropped for this long (at most
# DRAIN_AT_MOST bytes): closing on unread data resets the connection, and the client could lose
# the answer.
REFUSED_DRAIN_S = 2.0


_graceful_stop_hooks = []  # called once, on the loop, when this worker's graceful stop begins


def on_graceful_stop(hook) -> None:
    """Call `hook()` when the stop begins, before uvicorn waits for the requests in progress:
    what holds a request open (a long poll: campaigns.answers) answers it now."""
    _graceful_stop_hooks.append(hook)


def _graceful_stop_began():
    hooks = list(_graceful_stop_hooks)
    _graceful_stop_hooks.clear()
    for hook in hooks:
        hook()


class HeadRefused(Exception):
    """Raised in a parser callback to stop httptools; the protocol then answers its refusal."""


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    _draining = False
    _refusal = None  # the HeadRefusal answered on this connection, which then closes
    _heads = 0  # requests begun on this connection
    _head_open = False  # between a request's first byte and the end of its headers

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.limits = getattr(config, "head_limits", None) or HeadLimits()

    def data_received(self, data):
        if self._refusal is not None:  # answered: the rest is dropped unparsed
            self._dropped += len(data)
            if self._dropped > DRAIN_AT_MOST:
                self.transport.close()
            return
        heads = self._heads
        super().data_received(data)
        if self._refusal is None and self._head_open:
            # Only a chunk wholly inside the head counts: the one it began in may hold more.
            self._head_received += len(data) if heads == self._heads else 0
            self._refusal = self.limits.head_refusal(received=self._head_received)
            if self._refusal is not None:
                self._send_refusal()

    def send_400_response(self, msg):
        # uvicorn's answer to a parser error, which is how a callback's HeadRefused ends up here.
        if self._refusal is None:
            return super().send_400_response(msg)
        self._send_refusal()

    def _send_refusal(self):
        self._dropped = 0
        self.transport.write(self._refusal.response(self.server_state.default_headers))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(REFUSED_DRAIN_S, self.transport.close)

    def _refuse_if(self, refusal):
        if refusal is not None:
            self._refusal = refusal
            raise HeadRefused(refusal.code)

    def on_message_begin(self):
        super().on_message_begin()
        self._heads += 1
        self._head_open, self._head_received, self._fields = True, 0, 0

    def on_url(self, url):
        super().on_url(url)
        # The request line: method, space, target, space, HTTP/1.1.
        self._refuse_if(self.limits.line_refusal(length=len(self.parser.get_method()) + len(self.url) + 10))

    def on_header(self, name, value):
        super().on_header(name, value)
        self._fields += 1
        self._refuse_if(self.limits.field_refusal(count=self._fields, size=len(name) + len(value) + 2))

    def shutdown(self):
        _graceful_stop_began()  # uvicorn calls this on each connection when its stop begins
        if self.cycle is not None and not self.cycle.response_complete:
            return super().shutdown()  # a request in progress: answered, then closed
        self._draining = True
        self._unset_keepalive_if_required()  # the keep-alive timer: the drain decides now
        self.loop.call_later(DRAIN_S, self._close_if_idle)

    def _close_if_idle(self):
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def on_headers_complete(self):
        self._head_open = False
        super().on_headers_complete()
        if self._draining:
            self.cycle.keep_alive = False


class Worker(UvicornWorker):
    # access_log: campaign_site/access_log.py writes gunicorn's line instead of uvicorn's.
    CONFIG_KWARGS = {"loop": "uvloop", "http": DrainingHttpToolsProtocol, "access_log": False}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # uvicorn calls callback_notify every timeout_notify seconds (gunicorn's timeout by
        # default): often enough for the heartbeat, too seldom to notice a dead master.
        self.config.timeout_notify = min(self.timeout, 1.0)
        self.config.head_limits = HeadLimits.from_gunicorn(self.cfg)

    async def callback_notify(self):
        # gunicorn's own workers leave when their master dies (SIGKILL, OOM killer); uvicorn's
        # did not, and kept the port's connections and a producer alive as orphans.
        if os.getppid() != self.ppid:
            self.log.warning("gunicorn master %s is gone: worker %s stopping", self.ppid, self.pid)
            self._stop()
        self.notify()

    def handle_exit(self, sig, frame):
        # The master's quick stop (its SIGINT or SIGQUIT) sends SIGQUIT, which uvicorn-worker
        # routes here; gunicorn's handler only marks the worker not alive, uvicorn went on serving
        # and the master killed it after graceful_timeout (20 s).
        super().handle_exit(sig, frame)
        self._stop()

    @staticmethod
    def _stop():
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful stop
