"""Request signatures: TC3-HMAC-SHA256 for API calls, HMAC-SHA1 for client uploads (the older
API signature, HmacSHA1/HmacSHA256, is ``signing_v1``).

The contract is docs/contract.md §8.2 (API calls) and §3.2 (client uploads).

Both sides live here, so the server's check and the Python client's signer cannot drift apart:
``tc3_authorization`` signs a request exactly as the Tencent Cloud SDKs do, ``verify_tc3``
checks one; ``client_upload_signature`` makes an upload signature as a customer's server does,
``verify_upload_signature`` checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from animgraph.shared.errors import ApiError

__all__ = [
    "MAX_UPLOAD_SIGNATURE_S",
    "TC3_MAX_SKEW_S",
    "UploadGrant",
    "client_upload_signature",
    "host_variants",
    "parse_api_keys",
    "tc3_authorization",
    "verify_tc3",
    "verify_upload_signature",
]

ALGORITHM = "TC3-HMAC-SHA256"
TC3_MAX_SKEW_S = 300
MAX_UPLOAD_SIGNATURE_S = 90 * 24 * 3600
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[\w-]+)"
    r"/tc3_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$"
)


def parse_api_keys(text: str) -> dict[str, str]:
    """``SecretId:SecretKey[,SecretId:SecretKey...]`` as a dict; refuses malformed pairs."""
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        secret_id, sep, secret_key = pair.partition(":")
        if not sep or not secret_id or not secret_key:
            raise ValueError("API keys must be SecretId:SecretKey pairs separated by commas")
        keys[secret_id] = secret_key
    return keys


def host_variants(host: str) -> list[str]:
    """The ``host`` a client may have signed for a ``Host`` header: as sent, and without its
    port (the Node.js SDK signs the URL's hostname, the Python SDK its endpoint with the port)."""
    host = host.strip()
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return [host, name]
    return [host]


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _tc3_signature(
    secret_key: str, *, canonical_request: str, timestamp: str, date: str, service: str
) -> str:
    scope = f"{date}/{service}/tc3_request"
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = _hmac256(("TC3" + secret_key).encode(), date)
    key = _hmac256(key, service)
    key = _hmac256(key, "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed: list[str], body: bytes
) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered.get(name, '').strip()}\n" for name in signed)
    payload = (
        "UNSIGNED-PAYLOAD"
        if lowered.get("x-tc-content-sha256") == "UNSIGNED-PAYLOAD"
        else hashlib.sha256(body).hexdigest()
    )
    return "\n".join([method.upper(), path, query, canonical_headers, ";".join(signed), payload])


def tc3_authorization(
    secret_id: str,
    secret_key: str,
    *,
    host: str,
    body: bytes,
    timestamp: int,
    service: str = "vod",
    content_type: str = "application/json",
    method: str = "POST",
    query: str = "",
) -> str:
    """The ``Authorization`` header of a request to ``/`` (a JSON ``POST`` by default, or a
    ``GET`` with its ``query`` and an empty body), as the Tencent Cloud SDKs sign it."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    headers = {"content-type": content_type, "host": host}
    request = _canonical_request(method, "/", query, headers, ["content-type", "host"], body)
    signature = _tc3_signature(
        secret_key, canonical_request=request, timestamp=str(timestamp), date=date, service=service
    )
    return (
        f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def verify_tc3(
    keys: Mapping[str, str],
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str:
    """Check a request's TC3-HMAC-SHA256 signature; returns the SecretId or raises ``ApiError``
    with an ``AuthFailure.*`` code."""
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _AUTH.match(lowered.get("authorization", "").strip())
    if not match:
        raise ApiError(
            "the Authorization header is missing or is not TC3-HMAC-SHA256",
            "AuthFailure.InvalidAuthorization",
        )
    secret_key = keys.get(match["id"])
    if secret_key is None:
        raise ApiError(f"SecretId {match['id']!r} is not known", "AuthFailure.SecretIdNotFound")
    try:
        timestamp = int(lowered.get("x-tc-timestamp", ""))
    except ValueError:
        raise ApiError("X-TC-Timestamp is missing", "AuthFailure.InvalidAuthorization") from None
    skew = abs((time.time() if now is None else now) - timestamp)
    if skew > TC3_MAX_SKEW_S:
        raise ApiError(
            f"the signature is {skew:.0f} s away from the server's clock (at most "
            f"{TC3_MAX_SKEW_S} s)",
            "AuthFailure.SignatureExpire",
        )
    if datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != match["date"]:
        raise ApiError(
            "the Credential date does not match X-TC-Timestamp", "AuthFailure.SignatureFailure"
        )
    signed = match["headers"].split(";")
    if "host" not in signed or "content-type" not in signed:
        raise ApiError(
            "SignedHeaders must include content-type and host", "AuthFailure.SignatureFailure"
        )
    # The scope's service is whatever the client put there (the Node.js SDK takes the first
    # label of the endpoint, "127" for 127.0.0.1): the signature covers it either way.
    for host in host_variants(lowered.get("host", "")):
        request = _canonical_request(method, path, query, {**lowered, "host": host}, signed, body)
        expected = _tc3_signature(
            secret_key,
            canonical_request=request,
            timestamp=str(timestamp),
            date=match["date"],
            service=match["service"],
        )
        if hmac.compare_digest(expected, match["sig"]):
            return match["id"]
    raise ApiError("the request signature does not match", "AuthFailure.SignatureFailure")


# --- client upload signatures --------------------------------------------------------------


@dataclass(frozen=True)
class UploadGrant:
    """What a verified client-upload signature allows."""

    secret_id: str
    expire_time: int
    procedure: str = ""
    task_priority: int = 0
    task_notify_mode: str = "Finish"
    session_context: str = ""
    source_context: str = ""
    one_time: bool = False
    digest: str = ""


def client_upload_signature(secret_id: str, secret_key: str, **params: str | int) -> str:
    """``Base64(HMAC-SHA1(SecretKey, original) + original)``, ``original`` the URL-encoded
    ``secretId``, ``currentTimeStamp``, ``expireTime``, ``random`` and optional parameters."""
    original = urlencode({"secretId": secret_id, **{k: str(v) for k, v in params.items()}})
    digest = hmac.new(secret_key.encode(), original.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest + original.encode()).decode()


def verify_upload_signature(
    keys: Mapping[str, str], signature: str, *, now: float | None = None
) -> UploadGrant:
    """Check HMAC, time window and the 90-day cap of a client-upload signature.

    One-time use (``oneTimeValid=1``) is checked by the caller, which remembers ``digest``.
    """
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except ValueError:
        raise ApiError("the signature is not base64", "AuthFailure.SignatureFailure") from None
    digest, original = raw[:20], raw[20:]
    try:
        params = dict(parse_qsl(original.decode(), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise ApiError("the signature is malformed", "AuthFailure.SignatureFailure") from None
    secret_key = keys.get(params.get("secretId", ""))
    if secret_key is None:
        raise ApiError("the signature's secretId is not known", "AuthFailure.SecretIdNotFound")
    expected = hmac.new(secret_key.encode(), original, hashlib.sha1).digest()
    if not hmac.compare_digest(expected, digest):
        raise ApiError("the signature does not match its content", "AuthFailure.SignatureFailure")
    try:
        issued, expires = int(params["currentTimeStamp"]), int(params["expireTime"])
        priority = int(params.get("taskPriority", "0") or 0)
    except (KeyError, ValueError):
        raise ApiError(
            "the signature needs integer currentTimeStamp and expireTime",
            "AuthFailure.SignatureFailure",
        ) from None
    current = time.time() if now is None else now
    if expires - issued > MAX_UPLOAD_SIGNATURE_S:
        raise ApiError(
            "the signature is valid for more than 90 days", "AuthFailure.SignatureFailure"
        )
    if current > expires:
        raise ApiError("the signature has expired", "AuthFailure.SignatureExpire")
    if current + TC3_MAX_SKEW_S < issued:
        raise ApiError("the signature is from the future", "AuthFailure.SignatureFailure")
    return UploadGrant(
        secret_id=params["secretId"],
        expire_time=expires,
        procedure=params.get("procedure", ""),
        task_priority=priority,
        task_notify_mode=params.get("taskNotifyMode", "") or "Finish",
        session_context=params.get("sessionContext", ""),
        source_context=params.get("sourceContext", ""),
        one_time=params.get("oneTimeValid", "0") == "1",
        digest=digest.hex(),
    )
