"""CPU time of the host and of the consumer processes on it, as cumulative seconds. Whoever reads
two of these turns them into a percentage, so the web processes keep no state between requests
(psutil.cpu_percent() would measure since the previous call in *that* gunicorn worker)."""
import threading
import time

import psutil

# The processes reported: the first-come deciders on this host (the management command's name).
CONSUMER_COMMANDS = frozenset({"consume_firstcome"})
# Finding them walks /proc (a few ms); their list is refreshed at most this often.
RESCAN_SECONDS = 5

_lock = threading.Lock()
_scan = {"at": float("-inf"), "processes": []}


def host_cpu_seconds() -> dict:
    times = psutil.cpu_times()
    # Linux counts guest time inside user time already.
    total = sum(times) - getattr(times, "guest", 0) - getattr(times, "guest_nice", 0)
    idle = times.idle + getattr(times, "iowait", 0)
    return {"cores": psutil.cpu_count() or 1, "busy_seconds": round(total - idle, 2),
            "total_seconds": round(total, 2)}


def consumer_cpu_seconds() -> list[dict]:
    """[{pid, cpu_seconds}] for each consumer process running on this host."""
    usage = []
    for process in _consumer_processes():
        try:
            times = process.cpu_times()
        except psutil.Error:  # exited since the last scan
            continue
        usage.append({"pid": process.pid, "cpu_seconds": round(times.user + times.system, 2)})
    return usage


def _consumer_processes():
    with _lock:
        if time.monotonic() - _scan["at"] > RESCAN_SECONDS:
            _scan["processes"] = [p for p in psutil.process_iter(["cmdline"])
                                  if is_consumer_command(p.info["cmdline"])]
            _scan["at"] = time.monotonic()
        return list(_scan["processes"])


def is_consumer_command(cmdline) -> bool:
    # python [-u] manage.py consume_firstcome ...: the command name is among the first arguments.
    return bool(cmdline) and any(arg in CONSUMER_COMMANDS for arg in cmdline[1:4])
