"""The lease sweep: a thread in every worker's main process that, one worker at a time, gives
the messages of lost workers (no heartbeat) back to their queues, with kombu's own restore."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from animgraph.shared.state.leases import LeaseRepo
from animgraph.workers.app import app
from animgraph.workers.runtime import runtime

__all__ = ["restore_orphans", "start"]

log = logging.getLogger(__name__)


def start(holder: str) -> None:
    """Run the sweep every third of the lease in a daemon thread of this process."""
    threading.Thread(
        target=_sweep_forever, args=(holder,), name="animgraph-lease-sweep", daemon=True
    ).start()


def restore_orphans(repo: LeaseRepo, channel: Any, lease_s: float) -> list[str]:
    """Give every message nobody alive holds back to its queue (at its head, with its
    priority, as kombu's visibility timeout would); returns their delivery tags."""
    orphans = repo.orphans(lease_s=lease_s)
    for tag, holder in orphans:
        # The lease first: once restored, the message may be taken (and leased) at once.
        if holder is not None:
            repo.release([(tag, holder)])
        channel.qos.restore_by_tag(tag)
    if orphans:
        lost = sorted({h or "no lease" for _, h in orphans})
        log.warning("gave %d messages of lost workers back to their queues: %s", len(orphans), lost)
    return [tag for tag, _ in orphans]


def _sweep_forever(holder: str) -> None:
    rt = runtime()
    lease_s = rt.settings.worker.lease_s
    period = lease_s / 3
    repo = LeaseRepo.from_url(
        rt.settings.redis_url or "",
        timeout_s=period,
        sentinel_master=rt.settings.redis_sentinel_master,
    )
    connection: Any = None
    while True:
        time.sleep(period)
        try:
            if not repo.claim_sweep(holder, int(period * 900)):
                continue
            if connection is None:
                connection = app.connection_for_write()
            restore_orphans(repo, connection.default_channel, lease_s)
        except Exception:
            log.exception("lease sweep failed; trying again in %.0f s", period)
            if connection is not None:
                connection.close()
                connection = None
