"""A run's spending against its caps, never exceeded even with many requests in flight."""

from __future__ import annotations

import asyncio


class BudgetReached(Exception):
    """The run's request or money cap is reached; no new requests are sent."""


class Budget:
    """Requests and money one run may spend.

    A request is counted before it is sent, at the most it can cost; when its answer comes,
    that reservation is replaced by what it did cost. A request waits while requests in
    flight hold the money it needs, and the run stops when the rest of the budget can not
    cover it. All methods run on one event loop, so no lock is needed.
    """

    def __init__(self, requests: int | None, cost: float | None) -> None:
        self.requests = requests
        self.cost = cost
        self.spent_requests = 0
        self.spent_cost = 0.0
        self.reserved = 0.0
        self._settled = asyncio.Event()

    async def reserve(self, most: float) -> float:
        """Count one request costing at most ``most``; raise BudgetReached if it can't be."""
        while True:
            if self.requests is not None and self.spent_requests >= self.requests:
                raise BudgetReached(f"request budget of {self.requests} reached")
            if self.cost is None:
                break
            if self.spent_cost + most > self.cost:
                raise BudgetReached(f"cost budget of ${self.cost:.4f} reached")
            if self.spent_cost + self.reserved + most <= self.cost:
                break
            self._settled.clear()
            await self._settled.wait()
        self.spent_requests += 1
        self.reserved += most
        return most

    def release(self, reserved: float, *, cost: float | None = None, refused: bool = False) -> None:
        """Replace a reservation by what the request cost (None: the most it could have);
        a request the server ``refused`` (400) is not counted at all."""
        self.reserved -= reserved
        if refused:
            self.spent_requests -= 1
        else:
            self.spent_cost += reserved if cost is None else cost
        self._settled.set()  # wake the requests waiting for money
