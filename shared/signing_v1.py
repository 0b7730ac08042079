"""The older Tencent Cloud API signature (``HmacSHA1``/``HmacSHA256``, contract §8.2): the
parameters, form-encoded or in the query, carry ``Signature`` and the common parameters.

``v1_signature`` signs as the SDKs' ``Sign.sign`` does; ``verify_v1`` checks a request's
parameters and returns the ``Nonce`` the caller must claim once (replays are refused there:
this module is pure).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from animgraph.shared.errors import ApiError
from animgraph.shared.signing import TC3_MAX_SKEW_S, host_variants

__all__ = ["V1_COMMON_PARAMS", "V1Signed", "v1_signature", "v1_string_to_sign", "verify_v1"]

# The common parameters of the older signature: not parameters of the action.
V1_COMMON_PARAMS = frozenset(
    {
        "Action",
        "Version",
        "Region",
        "Timestamp",
        "Nonce",
        "SecretId",
        "SignatureMethod",
        "Signature",
        "Token",
        "RequestClient",
        "Language",
    }
)
_REQUIRED = ("SecretId", "Timestamp", "Nonce", "Action", "Version")


@dataclass(frozen=True)
class V1Signed:
    """A verified older signature: its key, and the nonce to remember for ``replay_ttl_s``
    (until its timestamp leaves the clock window, so a replay is refused either way)."""

    secret_id: str
    nonce: str
    replay_ttl_s: int


def v1_string_to_sign(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """``METHOD host path ? k=v&...``: every parameter but ``Signature``, sorted by name, the
    values not URL-encoded; an ``_`` in a name counts as ``.`` (as the SDKs write it)."""
    named = {k.replace("_", "."): v for k, v in params.items() if k != "Signature"}
    query = "&".join(f"{k}={named[k]}" for k in sorted(named))
    return f"{method.upper()}{host}{path}?{query}"


def v1_signature(secret_key: str, string_to_sign: str, sign_method: str) -> str:
    """Base64 of the HMAC; ``HmacSHA256`` only when named so, else ``HmacSHA1`` (as the cloud
    documents ``SignatureMethod``)."""
    digest = hashlib.sha256 if sign_method == "HmacSHA256" else hashlib.sha1
    mac = hmac.new(secret_key.encode(), string_to_sign.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def verify_v1(
    keys: Mapping[str, str],
    *,
    method: str,
    host: str,
    path: str,
    params: Mapping[str, str],
    now: float | None = None,
) -> V1Signed:
    """Check the older signature of a request's (decoded) ``params``; ``ApiError`` with the
    cloud's codes (``MissingParameter``, ``AuthFailure.*``) otherwise."""
    for name in _REQUIRED:
        if not params.get(name):
            raise ApiError(f"the parameter {name} is missing", "MissingParameter")
    secret_key = keys.get(params["SecretId"])
    if secret_key is None:
        raise ApiError(
            f"SecretId {params['SecretId']!r} is not known", "AuthFailure.SecretIdNotFound"
        )
    try:
        timestamp = int(params["Timestamp"])
    except ValueError:
        raise ApiError("Timestamp must be Unix seconds", "InvalidParameter") from None
    current = time.time() if now is None else now
    skew = abs(current - timestamp)
    if skew > TC3_MAX_SKEW_S:
        raise ApiError(
            f"the signature is {skew:.0f} s away from the server's clock (at most "
            f"{TC3_MAX_SKEW_S} s)",
            "AuthFailure.SignatureExpire",
        )
    given = params.get("Signature", "")
    sign_method = params.get("SignatureMethod", "")
    for candidate in host_variants(host):
        text = v1_string_to_sign(method, candidate, path, params)
        if hmac.compare_digest(v1_signature(secret_key, text, sign_method), given):
            ttl = int(timestamp + TC3_MAX_SKEW_S - current) + 1
            return V1Signed(params["SecretId"], params["Nonce"], max(ttl, 1))
    raise ApiError("the request signature does not match", "AuthFailure.SignatureFailure")
