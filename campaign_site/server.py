"""The gunicorn worker class (gunicorn.conf.py): uvicorn's, with a gentler graceful stop, and
one that stops when its master is gone.

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
"""
import os
import signal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

DRAIN_S = 5.0


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    _draining = False

    def shutdown(self):
        if self.cycle is not None and not self.cycle.response_complete:
            return super().shutdown()  # a request in progress: answered, then closed
        self._draining = True
        self._unset_keepalive_if_required()  # the keep-alive timer: the drain decides now
        self.loop.call_later(DRAIN_S, self._close_if_idle)

    def _close_if_idle(self):
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def on_headers_complete(self):
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
