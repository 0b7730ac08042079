"""The upload, request-session, console and lock repositories against a real Redis."""

from __future__ import annotations

import hashlib
import json

import redis

from animgraph.shared.state import State


def test_upload_sessions_keep_their_expiry_when_changed(state: State, raw: redis.Redis) -> None:
    state.uploads.put("k1", {"file": "a.mp4", "uploaded": False}, 120)
    assert json.loads(raw.get("animgraph:upload:k1") or "") == {
        "file": "a.mp4",
        "uploaded": False,
    }
    raw.expire("animgraph:upload:k1", 50)
    state.uploads.update("k1", uploaded=True, file_id="f1")
    assert state.uploads.get("k1") == {"file": "a.mp4", "uploaded": True, "file_id": "f1"}
    assert 0 < raw.ttl("animgraph:upload:k1") <= 50
    state.uploads.update("gone", uploaded=True)
    assert state.uploads.get("gone") is None and not raw.exists("animgraph:upload:gone")


def test_one_time_claims(state: State, raw: redis.Redis) -> None:
    assert state.uploads.claim_once("grant-1", 60) is True
    assert state.uploads.claim_once("grant-1", 60) is False
    assert state.uploads.claim_once("grant-2", 0) is True  # at least 1 s
    assert 0 < raw.ttl("animgraph:once:grant-2") <= 1


def test_a_session_id_is_claimed_once_until_released(state: State, raw: redis.Redis) -> None:
    assert state.sessions.claim("s1") is True
    assert state.sessions.claim("s1") is False
    assert raw.ttl("animgraph:session:s1") > 6 * 24 * 3600  # the API's 7-day window
    state.sessions.release("s1")
    assert state.sessions.claim("s1") is True


def test_console_sessions_are_kept_by_the_hash_of_their_token(
    state: State, raw: redis.Redis
) -> None:
    state.console.open_session("tok", "admin", 60)
    [key] = raw.keys("animgraph:console:session:*")
    assert key == "animgraph:console:session:" + hashlib.sha256(b"tok").hexdigest()
    assert 0 < raw.ttl(key) <= 60
    assert state.console.session_user("tok") == "admin"
    assert state.console.session_user("other") is None
    state.console.close_session("tok")
    assert state.console.session_user("tok") is None


def test_console_failures_count_in_a_window(state: State, raw: redis.Redis) -> None:
    assert state.console.failures("10.0.0.1") == 0
    for _ in range(3):
        state.console.record_failure("10.0.0.1", 300)
    assert state.console.failures("10.0.0.1") == 3
    assert 0 < raw.ttl("animgraph:console:fail:10.0.0.1") <= 300


def test_the_reconciler_lock_has_one_holder_until_it_expires(
    state: State, raw: redis.Redis
) -> None:
    assert state.locks.reconciler(101, 10_000) is True
    assert state.locks.reconciler(202, 10_000) is False
    assert raw.get("animgraph:reconciler") == "101"
    assert 0 < raw.pttl("animgraph:reconciler") <= 10_000
    raw.delete("animgraph:reconciler")
    assert state.locks.reconciler(202, 10_000) is True


def test_ping(state: State) -> None:
    assert state.ping() is True
