"""CPU used by processes, as cumulative seconds (user + system), and a sampler that turns those
into a CPU % series. The host's share comes from monitoring.cpu, the dashboard's own reader."""
import threading
import time

import psutil

from monitoring.cpu import host_cpu_seconds


def cpu_seconds(processes) -> float:
    """User + system seconds of these psutil processes so far; one that has exited counts 0."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class CpuSampler(threading.Thread):
    """CPU % of named processes ({name: pid}) and of the host ("host", in % of one core, like the
    processes), every `interval` seconds until stop(), which returns {name: [(s, %)]}."""

    def __init__(self, processes, interval=0.5):
        super().__init__(daemon=True)
        self.processes = {name: [psutil.Process(pid)] for name, pid in processes.items()}
        self.interval = interval
        self.samples = {name: [] for name in [*self.processes, "host"]}
        self._stop_event = threading.Event()

    def _readings(self):
        readings = {name: cpu_seconds(procs) for name, procs in self.processes.items()}
        readings["host"] = host_cpu_seconds()["busy_seconds"]
        return time.monotonic(), readings

    def run(self):
        at, previous = self._readings()
        started = at
        while not self._stop_event.wait(self.interval):
            now, current = self._readings()
            for name, seconds in current.items():
                if seconds >= previous[name]:  # less: the process exited, no reading
                    self.samples[name].append((now - started, 100 * (seconds - previous[name]) / (now - at)))
            at, previous = now, current

    def stop(self):
        self._stop_event.set()
        self.join()
        return self.samples
