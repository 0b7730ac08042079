"""The replay check of the older API signature: a ``Nonce`` is claimed once per SecretId, for
the window it is given, under a key of the map."""

from __future__ import annotations

from fnmatch import fnmatchcase

import redis

from animgraph.shared.state import State, keys


def test_a_nonce_is_claimed_once_per_secret_id(state: State, raw: redis.Redis) -> None:
    assert state.sessions.claim_nonce("AKIDa", "42", 300) is True
    assert state.sessions.claim_nonce("AKIDa", "42", 300) is False
    assert state.sessions.claim_nonce("AKIDb", "42", 300) is True
    name = keys.nonce("AKIDa", "42")
    assert name == "animgraph:nonce:AKIDa:42"
    assert any(fnmatchcase(name, p) for p in keys.KEY_PATTERNS)
    assert 0 < raw.ttl(name) <= 300
