"""A TCP proxy that can cut a process off a real server."""
import socket
import struct
import threading


class TcpProxy:
    """A TCP forwarder on a free loopback port, in front of a real server (here: the shared
    MariaDB, which the tests must never stop). cut() closes every forwarded connection and
    refuses new ones, as a dead server or a severed network would; restore() lets them in again.
    Threads, not asyncio: a handful of connections, and no event loop to share with the test."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections = set()
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                self._reset(client)  # refused: the client sees a dropped connection at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            with self._lock:
                if not self._open.is_set():  # cut while connecting: cut() could not see this pair
                    self._reset(client)
                    self._reset(upstream)
                    continue
                self._connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    @staticmethod
    def _reset(sock):
        # shutdown() first: close() alone leaves the connection open while another thread is
        # blocked in recv() on it, and MariaDB would keep that session's transaction, and the
        # campaign row lock it holds, for hours (wait_timeout).
        for step in (lambda: sock.shutdown(socket.SHUT_RDWR),
                     lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                     sock.close):
            try:
                step()
            except OSError:
                pass

    def _drop(self, *socks):
        with self._lock:
            for sock in socks:
                self._connections.discard(sock)
                self._reset(sock)

    def cut(self):
        self._open.clear()
        with self._lock:
            socks = list(self._connections)
        self._drop(*socks)

    def restore(self):
        self._open.set()

    def close(self):
        self._closed = True
        self.cut()
        self._listener.close()
