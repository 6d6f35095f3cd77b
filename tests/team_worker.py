"""A reviewer process for the team tests and bench/team.py: leases and decides until done.

Run: python tests/team_worker.py URL REVIEWER DECISIONS [BATCH]. Prints one line per decision
once ``decide`` returned (``item_id``), then ``timings`` as JSON: the seconds each "next
items" (``queue``) and each ``decide`` call took.
"""

from __future__ import annotations

import json
import sys
import time

from llmlabel_widget import Selector, Session


def main(url: str, reviewer: str, decisions: int, batch: int = 5) -> None:
    session = Session.open(url, selector=Selector(strategy="in_order", worker="thread"))
    labels = list(session.task.names)
    nexts: list[float] = []
    decides: list[float] = []
    done = 0
    while done < decisions:
        t0 = time.perf_counter()
        queue = session.queue(batch, reviewer=reviewer)
        nexts.append(time.perf_counter() - t0)
        if not queue:
            break
        for item in queue[: decisions - done]:
            t0 = time.perf_counter()
            session.decide(item.item_id, labels[hash(item.item_id) % 2], reviewer=reviewer)
            decides.append(time.perf_counter() - t0)
            print(item.item_id, flush=True)
            done += 1
    print("timings", json.dumps({"next": nexts, "decide": decides}), flush=True)
    session.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:5]))
