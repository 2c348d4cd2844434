"""Many threads at once, each with its own database connection."""
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def race(fn, items, threads=20):
    """Run fn over items from many threads, each with its own DB connection."""
    def call(item):
        try:
            return fn(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(call, items))
