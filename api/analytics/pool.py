"""The analytics thread pool: where every prediction-log query runs, and only those.

The engine is synchronous, so a query holds a thread for as long as the database takes.
In the event loop's default pool (six threads on two cores), six slow queries would
hold every thread that sync predictions publish through, and the predictions would
wait on the database. Here they wait for one of their own few threads instead. The
executor starts its threads on first use, not at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Two threads on two cores: the database, not the gateway, does the counting.
ANALYTICS_THREADS = 2
_pool = ThreadPoolExecutor(ANALYTICS_THREADS, thread_name_prefix="analytics")


async def in_analytics_thread(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` on the analytics pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, call, *args)
