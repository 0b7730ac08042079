"""Events in Redis: one stream for the reliable PULL queue, per-key push records for PUSH.

Every event is appended to the stream ``animgraph:events`` (kept ``retention_s``, 4 days by
default). PullEvents reads it through the consumer group ``pull``: an event goes to one puller
at a time, stays pending until ConfirmEvents, and is handed out again once it has been pending
longer than ``redelivery_s`` (30 s). Delivery is at least once.

In PUSH mode an event also gets a push record ``push:<key>:<seq>`` (``key`` is the TaskId or
FileId, so events of one task are numbered in order) that the ``deliver`` task POSTs to the
NotificationUrl, retrying with back-off; ``seq`` n is only sent after n-1 was delivered. Signing
and checking the URL are ``animgraph.shared.events``' (no Redis there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from animgraph.shared.events import PushRecord
from animgraph.shared.models import EventConfig, EventContent

from . import keys
from .metrics import MetricsRepo

__all__ = ["MAX_PULL", "Claim", "EventBus", "Published"]

GROUP = "pull"
CONSUMER = "pullers"
MAX_PULL = 16

# The one atomic step of a publish. KEYS: the stream, the push counter, the push record of the
# seq guessed (ARGV[4]; 0: nothing to push), and with a claim its key and the hash that keeps
# the event. ARGV: key, body, stream MINID, seq, url, created, retention, claim TTL. Answers
# {1, seq} when written (seq 0: no push), {0, seq} when the claim was held (the seq it
# recorded), {-1, seq now} when the guess was stale (the caller tries again).
PUBLISH_LUA = """
local claimed = #KEYS == 5
if claimed then
  local held = redis.call('GET', KEYS[4])
  if held then return {0, tonumber(held) or 0} end
end
local seq = tonumber(ARGV[4])
if seq > 0 then
  local now = tonumber(redis.call('GET', KEYS[2]) or '0')
  if now + 1 ~= seq then return {-1, now} end
end
local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[3], '*', 'key', ARGV[1],
                      'event', ARGV[2])
if seq > 0 then
  redis.call('SET', KEYS[2], seq, 'EX', ARGV[7])
  local record = cjson.encode({url = ARGV[5], body = ARGV[2], event_id = id,
                               created = tonumber(ARGV[6])})
  redis.call('SET', KEYS[3], record, 'EX', ARGV[7])
end
if claimed then
  redis.call('SET', KEYS[4], seq, 'EX', ARGV[8])
  redis.call('HSET', KEYS[5], 'event', ARGV[2])
end
return {1, seq}
"""


@dataclass(frozen=True)
class Claim:
    """A once-only claim on an event: its key (holding the push seq once taken), its TTL, and
    the hash whose ``event`` field keeps the event (``TaskRepo.final_event_claim``)."""

    key: str
    ttl_s: int
    keep: str


@dataclass(frozen=True)
class Published:
    """What a publish did: ``first`` False when a claim was held before (nothing written);
    ``seq`` the push to deliver, 0 when nothing is pushed."""

    first: bool
    seq: int


class EventBus:
    """Publish events, serve the pull queue, and keep the push records in order."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        redelivery_s: float = 30.0,
        retention_s: int = 4 * 24 * 3600,
    ) -> None:
        self._redis = client
        self.redelivery_ms = int(redelivery_s * 1000)
        self.retention_s = retention_s
        self._group_ready = False
        self._script = client.register_script(PUBLISH_LUA)

    # --- configuration -----------------------------------------------------------------------

    def config(self) -> EventConfig:
        raw = self._redis.get(keys.EVENT_CONFIG)
        return EventConfig.model_validate_json(cast(str, raw)) if raw else EventConfig()

    def set_config(self, config: EventConfig) -> None:
        self._redis.set(keys.EVENT_CONFIG, config.model_dump_json())

    # --- publishing --------------------------------------------------------------------------

    def publish(self, key: str, event: EventContent) -> int | None:
        """Record ``event`` for pulling and, in PUSH mode, for pushing; returns the push ``seq``
        for the caller to schedule ``deliver(key, seq)``, or None when nothing is to be pushed."""
        return self._publish(key, event, None).seq or None

    def publish_once(self, key: str, event: EventContent, claim: Claim) -> Published:
        """``publish`` under a once-only ``claim``, in the same atomic step: either the claim,
        the kept event, the stream entry and the push record are all written, or none is. A
        claim taken before writes nothing and answers with the seq recorded in it."""
        return self._publish(key, event, claim)

    def _publish(self, key: str, event: EventContent, claim: Claim | None) -> Published:
        body = json.dumps(event.wire(), ensure_ascii=False)
        min_id = int((time.time() - self.retention_s) * 1000)
        claim_keys = [claim.key, claim.keep] if claim else []
        while True:
            # The seq is guessed before the script runs, so that the record's key name comes
            # from ``keys`` (a script must not build key names); a concurrent publish for the
            # same key makes the script refuse the guess, and it is tried again. One read
            # fetches the guess with the configuration.
            raw, last = cast(
                list[str | None], self._redis.mget([keys.EVENT_CONFIG, keys.push_seq(key)])
            )
            config = EventConfig.model_validate_json(raw) if raw else EventConfig()
            push = bool(config.mode == "PUSH" and config.notification_url) and not (
                event.event_type == "NewFileUpload"
                and config.upload_media_complete_event_switch == "OFF"
            )
            seq = int(last or 0) + 1 if push else 0
            answer = cast(
                list[int],
                self._script(
                    keys=[keys.EVENTS, keys.push_seq(key), keys.push_record(key, seq), *claim_keys],
                    args=[
                        key,
                        body,
                        min_id,
                        seq,
                        config.notification_url or "",
                        repr(time.time()),
                        self.retention_s,
                        claim.ttl_s if claim else 0,
                    ],
                ),
            )
            status, got = int(answer[0]), int(answer[1])
            if status >= 0:
                return Published(first=status == 1, seq=got)

    # --- push bookkeeping --------------------------------------------------------------------

    def push_pending(self, key: str, seq: int) -> bool:
        """True while push ``seq`` of ``key`` is recorded and not done (delivered or given up)."""
        recorded = bool(self._redis.exists(keys.push_record(key, seq)))
        return recorded and self.delivered_seq(key) < seq

    def push_record(self, key: str, seq: int) -> PushRecord | None:
        raw = self._redis.get(keys.push_record(key, seq))
        if not raw:
            return None
        data = json.loads(cast(str, raw))
        return PushRecord(key, seq, data["url"], data["body"], data["event_id"], data["created"])

    def delivered_seq(self, key: str) -> int:
        return int(cast(str, self._redis.get(keys.push_done(key)) or 0))

    def mark_delivered(self, key: str, seq: int, outcome: str = "delivered") -> bool:
        """Record ``seq`` as done (``outcome``: delivered or given_up, counted); True if
        ``seq + 1`` was parked waiting for it, in which case the caller must schedule it
        (exactly one caller does)."""
        pipe = self._redis.pipeline()
        pipe.set(keys.push_done(key), seq, ex=self.retention_s)
        pipe.delete(keys.push_record(key, seq))
        MetricsRepo.count_event(pipe, "push", outcome)
        pipe.execute()
        return bool(self._redis.delete(keys.push_parked(key, seq + 1)))

    def park_or_run(self, key: str, seq: int) -> bool:
        """Called when ``seq - 1`` is not done yet: park ``seq`` for the deliverer of ``seq - 1``
        to schedule later. True if ``seq - 1`` finished meanwhile and ``seq`` should run now."""
        parked = keys.push_parked(key, seq)
        self._redis.set(parked, "1", ex=self.retention_s)
        if self.delivered_seq(key) >= seq - 1:
            return bool(self._redis.delete(parked))
        return False

    # --- the pull queue ----------------------------------------------------------------------

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._redis.xgroup_create(keys.EVENTS, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def pull(self, *, limit: int = MAX_PULL, wait_s: float = 5.0) -> list[EventContent]:
        """Up to ``limit`` events: first those left unconfirmed past the redelivery window,
        then new ones; waits up to ``wait_s`` for one when none is ready."""
        self._ensure_group()
        limit = max(1, min(limit, MAX_PULL))
        answer: list[Any] = self._redis.xautoclaim(
            keys.EVENTS,
            GROUP,
            CONSUMER,
            min_idle_time=self.redelivery_ms,
            start_id="0-0",
            count=limit,
        )
        claimed = answer[1]
        entries = [e for e in claimed if e and e[1]]
        if len(entries) < limit:
            block = None if entries or wait_s <= 0 else int(wait_s * 1000)
            fresh = self._redis.xreadgroup(
                GROUP, CONSUMER, {keys.EVENTS: ">"}, count=limit - len(entries), block=block
            )
            for _, items in cast(list[Any], fresh or []):
                entries.extend(items)
        events = [self._handed_out(entry_id, fields) for entry_id, fields in entries]
        if events:
            again = sum(1 for e in events if not (e.event_handle or "").endswith(".1"))
            pipe = self._redis.pipeline(transaction=False)
            for outcome, n in (("handed_out", len(events) - again), ("retried", again)):
                if n:
                    MetricsRepo.count_event(pipe, "pull", outcome, n)
            pipe.execute()
        return events

    def _pending(self, entry_id: str) -> list[dict[str, Any]]:
        return cast(
            list[dict[str, Any]],
            self._redis.xpending_range(keys.EVENTS, GROUP, min=entry_id, max=entry_id, count=1),
        )

    def _handed_out(self, entry_id: str, fields: Mapping[str, str]) -> EventContent:
        info = self._pending(entry_id)
        deliveries = int(info[0]["times_delivered"]) if info else 1
        event = EventContent.model_validate_json(fields["event"])
        return event.model_copy(update={"event_handle": f"{entry_id}.{deliveries}"})

    def confirm(self, handles: Sequence[str]) -> list[str]:
        """Acknowledge pulled events; returns the handles refused as late (handed out again
        since) or unknown. A handle already confirmed is accepted again."""
        self._ensure_group()
        refused = []
        confirmed = 0
        for handle in handles:
            entry_id, _, count = handle.rpartition(".")
            if not entry_id or not count.isdigit():
                refused.append(handle)
                continue
            try:
                info = self._pending(entry_id)
            except redis.ResponseError:
                refused.append(handle)
                continue
            if not info:
                continue  # not pending: confirmed already
            if int(info[0]["times_delivered"]) != int(count):
                refused.append(handle)
                continue
            confirmed += int(self._redis.xack(keys.EVENTS, GROUP, entry_id))
        if confirmed:
            MetricsRepo.count_event(self._redis, "pull", "delivered", confirmed)
        return refused
