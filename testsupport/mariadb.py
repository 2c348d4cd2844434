"""A MariaDB server of the test's own: its data directory under the test's tmp_path, on a free
port, with durable commits (the server's defaults), to be killed with SIGKILL and started again on
the same data, as a crashed or failed-over database server is. The session's shared server is
never touched."""
import getpass
import os
import shutil
import signal
import subprocess
from pathlib import Path

from lab.embedded import free_port, port_open
from testsupport.polling import poll

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db")


class DatabaseServer:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.datadir = root / "data"
        self.port = free_port()
        self.process = None
        self.starts = 0
        self.kills = 0

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/firstcome"

    def install(self) -> "DatabaseServer":
        run = subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", f"--user={getpass.getuser()}",
                              "--auth-root-authentication-method=normal", "--skip-test-db"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        return self

    def start(self, timeout: float = 30) -> "DatabaseServer":
        log = open(self.root / f"mariadbd-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.root / 'mariadbd.sock'}", f"--pid-file={self.root / 'mariadbd.pid'}",
             f"--user={getpass.getuser()}", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
             "--skip-name-resolve"], stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        poll(lambda: self._answers(), timeout=timeout, message="the test's MariaDB server")
        return self

    def _answers(self) -> bool:
        assert self.process.poll() is None, (self.root / f"mariadbd-{self.starts - 1}.log").read_text()
        return port_open("127.0.0.1", self.port)

    def sql(self, statement: str) -> str:
        run = subprocess.run(["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root",
                              "-N", "-e", statement], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    def kill(self) -> None:
        """SIGKILL, as a crash or a failed instance: no shutdown, nothing flushed but what was committed."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1
        assert not port_open("127.0.0.1", self.port)  # the fault happened: nothing answers there

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
