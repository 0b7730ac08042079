"""Worker leases: each worker's heartbeat, the lease it holds on every message it has taken, and
the messages whose holder is gone (read against kombu's ``unacked`` bookkeeping)."""

from __future__ import annotations

import time
from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import keys
from .connection import DEFAULT_SENTINEL_MASTER, connect

__all__ = ["LeaseRepo"]

# One heartbeat, atomically: renew the holder's key (``XX``: a key that lapsed is not revived,
# its messages may be running elsewhere already) holding what the worker is (ARGV[5], JSON:
# its processes and queues, for monitoring), and its time in the ``workers`` index (pruned of
# holders silent for three leases); then for each tag it holds, renew its lease and its time in
# kombu's ``unacked_index`` (so the visibility timeout never takes a live worker's long step),
# or drop it once it is acknowledged. Returns the tags still held, or nil when the lease was
# lost. A tag with no lease yet (its write failed) is claimed here.
_BEAT = """
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[2], 'XX') then
  return false
end
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', tonumber(ARGV[3]) - 3 * tonumber(ARGV[2]) / 1000)
local kept = {}
for i = 6, #ARGV do
  local tag = ARGV[i]
  local holder = redis.call('HGET', KEYS[2], tag)
  if redis.call('HEXISTS', KEYS[3], tag) == 1 and (holder == ARGV[1] or not holder) then
    if not holder then redis.call('HSET', KEYS[2], tag, ARGV[1]) end
    redis.call('ZADD', KEYS[4], 'XX', ARGV[3], tag)
    kept[#kept + 1] = tag
  elseif holder == ARGV[1] then
    redis.call('HDEL', KEYS[2], tag)
  end
end
return kept
"""
# Drop leases (tag, holder pairs) that still name that holder: a tag given back may already be
# leased again by its new worker.
_RELEASE = """
local dropped = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    dropped = dropped + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return dropped
"""


class LeaseRepo:
    """``worker:<holder>``, ``leases`` and ``leases:sweep``, read with kombu's ``unacked`` and
    ``unacked_index``. It has a client of its own that fails fast (no retries, short timeouts):
    a heartbeat that cannot be written must be known as such within the lease."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._beat = client.register_script(_BEAT)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float, sentinel_master: str = DEFAULT_SENTINEL_MASTER
    ) -> LeaseRepo:
        client = connect(
            url,
            sentinel_master=sentinel_master,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), retries=0),
        )
        return cls(client)

    def hold(self, tag: str, holder: str) -> None:
        """``holder`` has taken the message ``tag`` (a delivery tag of kombu's)."""
        self._redis.hset(keys.LEASES, tag, holder)

    def beat(
        self, holder: str, tags: list[str], *, lease_s: float, first: bool, info: str = "{}"
    ) -> list[str] | None:
        """Renew ``holder``'s heartbeat (its value ``info``: what the worker is, JSON) and its
        leases on ``tags``; the tags it still holds (the others were acknowledged), or None if
        its heartbeat had lapsed (``first``: start it)."""
        now = repr(time.time())
        argv = [holder, int(lease_s * 1000), now, "1" if first else "0", info, *tags]
        keys_ = [
            keys.worker(holder),
            keys.LEASES,
            keys.KOMBU_UNACKED,
            keys.KOMBU_UNACKED_INDEX,
            keys.WORKERS,
        ]
        kept = self._beat(keys=keys_, args=argv)
        return None if kept is None else [str(t) for t in kept]

    def end(self, holder: str) -> None:
        """``holder``'s worker has stopped (its messages acknowledged or given back): its
        heartbeat goes at once, not a lease later."""
        pipe = self._redis.pipeline()
        pipe.delete(keys.worker(holder))
        pipe.zrem(keys.WORKERS, holder)
        pipe.execute()

    def claim_sweep(self, holder: str, ttl_ms: int) -> bool:
        """True if ``holder`` runs this sweep (one worker at a time; the lock lapses)."""
        return bool(self._redis.set(keys.LEASE_SWEEP, holder, nx=True, px=ttl_ms))

    def orphans(self, *, lease_s: float) -> list[tuple[str, str | None]]:
        """The unacknowledged messages nobody alive holds, as (tag, lapsed holder or None): a
        holder without a heartbeat, or no lease at all and taken more than ``lease_s`` ago (its
        worker died between taking it and writing the lease). Leases of lapsed holders whose
        message is acknowledged are dropped on the way."""
        taken = cast(
            list[tuple[str, float]],
            self._redis.zrange(keys.KOMBU_UNACKED_INDEX, 0, -1, withscores=True),
        )
        leases = cast(dict[str, str], self._redis.hgetall(keys.LEASES))
        holders = sorted(set(leases.values()))
        pipe = self._redis.pipeline(transaction=False)
        for name in holders:
            pipe.exists(keys.worker(name))
        alive = {h for h, found in zip(holders, pipe.execute(), strict=True) if found}
        since = time.time() - lease_s
        orphans: list[tuple[str, str | None]] = []
        for tag, taken_at in taken:
            holder = leases.get(tag)
            if (holder is None and taken_at < since) or (holder and holder not in alive):
                orphans.append((tag, holder))
        unacked = {tag for tag, _ in taken}
        self.release([(t, h) for t, h in leases.items() if t not in unacked and h not in alive])
        return orphans

    def release(self, leases: list[tuple[str, str]]) -> int:
        """Drop these (tag, holder) leases where they still name that holder; how many."""
        if not leases:
            return 0
        return int(self._release(keys=[keys.LEASES], args=[v for pair in leases for v in pair]))

    def holders(self) -> dict[str, str]:
        """Tag -> holder of every lease of an unacknowledged message (for tests and tools)."""
        leases = cast(dict[str, str], self._redis.hgetall(keys.LEASES))
        taken = set(cast(list[str], self._redis.zrange(keys.KOMBU_UNACKED_INDEX, 0, -1)))
        return {t: h for t, h in leases.items() if t in taken}

    def close(self) -> None:
        self._redis.close()
