"""Waiting for a condition instead of sleeping."""
from lab.processes import wait_until


def poll(predicate, timeout=60, message="condition"):
    return wait_until(predicate, timeout=timeout, message=message)
