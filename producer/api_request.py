"""Reading one API call off an HTTP request (contract §8.2): its signature checked, its action,
version and parameters, whichever way an official client sent them.

- ``POST`` with a JSON body, or ``GET`` with the parameters in the query string, signed with
  TC3-HMAC-SHA256 (``Authorization``; action and version in ``X-TC-Action``/``X-TC-Version``);
- ``POST`` form-encoded, or ``GET``, signed with the older ``HmacSHA1``/``HmacSHA256``
  (``Signature`` and the common parameters ``Action``, ``Version``, ``Nonce``, ... among the
  others).

GET and the older signature carry nested parameters flattened (``FileIds.0=...``,
``MediaProcessTask.AnimatedGraphicTaskSet.0.Definition=20000``), every value a string:
``unflatten`` rebuilds the JSON shape and the action models' lax parsing converts the strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from animgraph.shared.errors import ApiError
from animgraph.shared.signing import verify_tc3
from animgraph.shared.signing_v1 import V1_COMMON_PARAMS, verify_v1

__all__ = ["ApiCall", "NonceClaim", "read_call", "unflatten"]

# Fields the SDK may send that a single-tenant deployment ignores.
IGNORED_FIELDS = ("SubAppId", "ExtInfo")
FORM = "application/x-www-form-urlencoded"
# (secret_id, nonce, ttl_s) -> True if the nonce was not seen in the window (and now is).
NonceClaim = Callable[[str, str, int], bool]


@dataclass(frozen=True)
class ApiCall:
    """A verified call: who signed it, the action, the version and its parameters."""

    secret_id: str
    action: str
    version: str
    params: dict[str, Any]


async def read_call(request: Request, keys: dict[str, str], claim_nonce: NonceClaim) -> ApiCall:
    """The call ``request`` carries, or ``ApiError`` (``AuthFailure.*`` for a bad signature,
    ``InvalidParameter`` / ``MissingParameter`` for a malformed request)."""
    method = request.method.upper()
    if method not in ("GET", "POST"):
        raise ApiError("only GET and POST requests are supported", "UnsupportedProtocol")
    body = await request.body() if method == "POST" else b""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    query = request.url.query
    if "authorization" in request.headers:
        secret_id = verify_tc3(
            keys,
            method=method,
            path=request.url.path,
            query=query,
            headers=request.headers,
            body=body,
        )
        if method == "GET" or content_type == FORM:
            params = unflatten(_pairs(query if method == "GET" else _text(body)))
        else:
            params = _json_object(body)
        action = request.headers.get("x-tc-action", "")
        version = request.headers.get("x-tc-version", "")
    else:
        # A body that is not a form (an unsigned JSON call) carries no signature parameters.
        form = _text(body) if content_type == FORM else ""
        flat = dict(_pairs(query if method == "GET" else form))
        if "Signature" not in flat:
            raise ApiError(
                "sign the request: an Authorization header (TC3-HMAC-SHA256) or the Signature "
                "parameters (HmacSHA1, HmacSHA256)",
                "AuthFailure.InvalidAuthorization",
            )
        signed = verify_v1(
            keys, method=method, host=request.headers.get("host", ""), path="/", params=flat
        )
        if not await run_in_threadpool(
            claim_nonce, signed.secret_id, signed.nonce, signed.replay_ttl_s
        ):
            raise ApiError(
                f"the Nonce {signed.nonce} was already used within the signature's window",
                "AuthFailure.SignatureFailure",
            )
        secret_id, action, version = (
            signed.secret_id,
            flat.get("Action", ""),
            flat.get("Version", ""),
        )
        params = unflatten((k, v) for k, v in flat.items() if k not in V1_COMMON_PARAMS)
    for field in IGNORED_FIELDS:
        params.pop(field, None)
    return ApiCall(secret_id, action, version, params)


def _text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise ApiError("the form body is not UTF-8", "InvalidParameter") from None


def _pairs(encoded: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(encoded, keep_blank_values=True, strict_parsing=bool(encoded))
    except ValueError:
        raise ApiError("the parameters are not URL-encoded", "InvalidParameter") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise ApiError("the body is not JSON", "InvalidParameter") from None
    if not isinstance(params, dict):
        raise ApiError("the body must be a JSON object", "InvalidParameter")
    return params


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``{"A.0.B": "1", "A.1.B": "2", "C": "x"}`` as ``{"A": [{"B": "1"}, {"B": "2"}], "C":
    "x"}``: dots nest, and an object whose keys are all integers becomes a list in their order
    (the flattening of the Tencent Cloud SDKs' ``_format_params`` undone)."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        parts = name.split(".")
        if not all(parts):
            raise ApiError(f"the parameter name {name!r} is malformed", "InvalidParameter")
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ApiError(f"{name!r} nests below a value", "InvalidParameter")
            node = child
        if parts[-1] in node:
            raise ApiError(f"the parameter {name!r} is given twice", "InvalidParameter")
        node[parts[-1]] = value
    result = _lists(root)
    if not isinstance(result, dict):
        raise ApiError("the parameters must have names, not only indices", "InvalidParameter")
    return result


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _lists(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items
