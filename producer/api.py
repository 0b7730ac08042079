"""The HTTP API (contract §8.2): Tencent Cloud API 3.0 style; the official VOD SDK works unchanged.

- ``POST /`` or ``GET /``: an action, signed with a key pair of ``ANIMGRAPH_API_KEYS``: JSON
  body or query string with TC3-HMAC-SHA256, or form body or query string with the older
  HmacSHA1/HmacSHA256 (read by ``api_request``). Answers ``{"Response": {..., "RequestId"}}``,
  errors as ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`` (HTTP 200, as the SDKs
  expect).
- ``PUT /upload/<VodSessionKey>/<name>``: the bytes of an ApplyUpload session, with
  ``Authorization: Bearer <TempCertificate.Token>``.
- ``POST /client-upload``: multipart ``signature`` then ``file``; the signature is checked before
  any byte of the file is accepted.
- ``GET /files/<key>``: sources and outputs (the ``Url``/``FileUrl``/``MediaUrl`` given), with
  range requests.
- ``GET /healthz``, ``GET /readyz``, ``GET /metrics``: liveness, readiness (Redis, storage) and
  Prometheus metrics, unsigned (README, "Monitoring").
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    ApplyUploadRequest,
    CommitUploadRequest,
    ConfirmEventsRequest,
    CreateAnimatedGraphicsTemplateRequest,
    CreateProcedureTemplateRequest,
    DefinitionRequest,
    DescribeAnimatedGraphicsTemplatesRequest,
    DescribeMediaInfosRequest,
    DescribeProcedureTemplatesRequest,
    DescribeTasksRequest,
    EmptyRequest,
    FileIdRequest,
    ModifyAnimatedGraphicsTemplateRequest,
    ModifyEventConfigRequest,
    ProcedureNameRequest,
    ProcessMediaByProcedureRequest,
    ProcessMediaRequest,
    TaskIdRequest,
    WireModel,
)
from animgraph.shared.settings import Settings
from animgraph.shared.signing import parse_api_keys, verify_upload_signature
from animgraph.shared.storage import S3Storage, validate_key

from .api_request import read_call
from .apiversion import API_VERSION
from .client import Client
from .console import mount_console
from .services.flows import FLOW_CODES
from .services.validation import parse
from .uploads import Uploads, UploadTooLarge, receive_stream

__all__ = ["API_VERSION", "create_app"]

log = logging.getLogger(__name__)
Action = Callable[[Mapping[str, Any]], Mapping[str, Any]]
STATUS = {
    "ResourceNotFound": 404,
    "AuthFailure.TokenFailure": 401,
    "FailedOperation.UploadCommitted": 409,
    "LimitExceeded.UploadSize": 413,
}


def _actions(client: Client, uploads: Uploads) -> dict[str, tuple[type[WireModel], Action]]:
    """Every action: its request model (for the OpenAPI document) and its handler."""

    def wire(model: WireModel) -> Mapping[str, Any]:
        return model.wire()

    def done(_: object) -> Mapping[str, Any]:
        """Actions that answer only a RequestId."""
        return {}

    def then_done(action: Callable[[Any], None], arg: object) -> Mapping[str, Any]:
        action(arg)
        return {}

    return {
        "CreateAnimatedGraphicsTemplate": (
            CreateAnimatedGraphicsTemplateRequest,
            lambda p: {"Definition": client.create_animated_graphics_template(p).definition},
        ),
        "ModifyAnimatedGraphicsTemplate": (
            ModifyAnimatedGraphicsTemplateRequest,
            lambda p: done(client.modify_animated_graphics_template(p)),
        ),
        "DeleteAnimatedGraphicsTemplate": (
            DefinitionRequest,
            lambda p: then_done(
                client.delete_animated_graphics_template, parse(DefinitionRequest, p).definition
            ),
        ),
        "DescribeAnimatedGraphicsTemplates": (
            DescribeAnimatedGraphicsTemplatesRequest,
            lambda p: wire(client.describe_animated_graphics_templates(p)),
        ),
        "CreateProcedureTemplate": (
            CreateProcedureTemplateRequest,
            lambda p: done(client.create_procedure_template(p)),
        ),
        "ResetProcedureTemplate": (
            CreateProcedureTemplateRequest,
            lambda p: done(client.reset_procedure_template(p)),
        ),
        "DeleteProcedureTemplate": (
            ProcedureNameRequest,
            lambda p: then_done(
                client.delete_procedure_template, parse(ProcedureNameRequest, p, FLOW_CODES).name
            ),
        ),
        "DescribeProcedureTemplates": (
            DescribeProcedureTemplatesRequest,
            lambda p: wire(client.describe_procedure_templates(p)),
        ),
        "ApplyUpload": (ApplyUploadRequest, lambda p: wire(uploads.apply(p))),
        "CommitUpload": (
            CommitUploadRequest,
            lambda p: {k: v for k, v in wire(uploads.commit(p)).items() if k != "ProcedureTaskId"},
        ),
        "ProcessMedia": (ProcessMediaRequest, lambda p: {"TaskId": client.process_media(p)}),
        "ProcessMediaByProcedure": (
            ProcessMediaByProcedureRequest,
            lambda p: {"TaskId": client.process_media_by_procedure(p)},
        ),
        "DescribeTaskDetail": (
            TaskIdRequest,
            lambda p: wire(client.describe_task_detail(parse(TaskIdRequest, p).task_id)),
        ),
        "DescribeTasks": (DescribeTasksRequest, lambda p: wire(client.describe_tasks(p))),
        "DescribeMediaInfos": (
            DescribeMediaInfosRequest,
            lambda p: wire(client.describe_media_infos(p)),
        ),
        "ModifyEventConfig": (
            ModifyEventConfigRequest,
            lambda p: done(client.modify_event_config(p)),
        ),
        "DescribeEventConfig": (EmptyRequest, lambda p: wire(client.describe_event_config())),
        "PullEvents": (EmptyRequest, lambda p: wire(client.pull_events())),
        "ConfirmEvents": (ConfirmEventsRequest, lambda p: then_done(client.confirm_events, p)),
        "DeleteMedia": (
            FileIdRequest,
            lambda p: then_done(client.delete_media, parse(FileIdRequest, p).file_id),
        ),
    }


def _error(exc: ApiError, request_id: str, status: int = 200) -> JSONResponse:
    body = {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}
    return JSONResponse({"Response": body}, status_code=status)


def _openapi_extra(actions: Mapping[str, tuple[type[WireModel], Action]]) -> dict[str, Any]:
    schemas = [
        {"title": name, **model.model_json_schema(by_alias=True)}
        for name, (model, _) in actions.items()
    ]
    return {
        "parameters": [
            {
                "name": "X-TC-Action",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": list(actions)},
            },
            {
                "name": "X-TC-Version",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": [API_VERSION]},
            },
            {
                "name": "X-TC-Timestamp",
                "in": "header",
                "required": True,
                "schema": {"type": "integer"},
            },
            {
                "name": "Authorization",
                "in": "header",
                "required": True,
                "description": "TC3-HMAC-SHA256 Credential=<SecretId>/<date>/vod/tc3_request, "
                "SignedHeaders=content-type;host, Signature=<hex>; a form body signed with "
                "HmacSHA1/HmacSHA256 (Action, Version, Nonce, Signature, ...) needs none of "
                "these headers (contract §8.2)",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": schemas}}},
        },
    }


def create_app(settings: Settings, *, client: Client | None = None) -> FastAPI:
    """The API application for ``settings`` (its Redis, storage and API keys)."""
    keys = parse_api_keys(settings.api.keys)
    if not keys:
        raise ValueError("set ANIMGRAPH_API_KEYS=SecretId:SecretKey: the API refuses anonymous use")
    client = client or Client(settings)
    uploads = Uploads(client)
    actions = _actions(client, uploads)
    app = FastAPI(
        title="animgraph",
        version=API_VERSION,
        description="Video segments to animated GIF/WebP; Tencent Cloud VOD API 3.0 shapes.",
    )

    @app.get("/", summary="Call an action, its parameters flattened in the query string")
    @app.post("/", openapi_extra=_openapi_extra(actions), summary="Call an action")
    async def call(request: Request) -> JSONResponse:
        request_id = str(uuid.uuid4())
        try:
            api_call = await read_call(request, keys, client.state.sessions.claim_nonce)
            if api_call.action not in actions:
                raise ApiError(f"action {api_call.action!r} is not supported", "InvalidAction")
            if api_call.version != API_VERSION:
                raise ApiError(f"the Version must be {API_VERSION}", "NoSuchVersion")
            result = await run_in_threadpool(actions[api_call.action][1], api_call.params)
        except ApiError as exc:
            return _error(exc, request_id)
        except Exception:
            log.exception("action failed")
            return _error(ApiError("internal error; retry", "InternalError"), request_id)
        return JSONResponse({"Response": {**result, "RequestId": request_id}})

    @app.put("/upload/{session_key}/{file_name}", summary="Upload bytes of an ApplyUpload session")
    async def upload(session_key: str, file_name: str, request: Request) -> JSONResponse:
        request_id = str(uuid.uuid4())
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            session = uploads.session_for_put(session_key, file_name, token)
            _check_length(request, settings.uploads.max_bytes)
            with tempfile.TemporaryDirectory(dir=uploads.scratch()) as tmp:
                local = Path(tmp) / "upload"
                size = await receive_stream(request.stream(), local, settings.uploads.max_bytes)
                await run_in_threadpool(uploads.store_put, session_key, session, local)
        except ApiError as exc:
            return _error(exc, request_id, STATUS.get(exc.code, 400))
        return JSONResponse({"Size": size, "RequestId": request_id})

    @app.post("/client-upload", summary="Upload with a client-upload signature")
    async def client_upload(request: Request) -> JSONResponse:
        request_id = str(uuid.uuid4())
        try:
            _check_length(request, settings.uploads.max_bytes + (1 << 20))
            with tempfile.TemporaryDirectory(dir=uploads.scratch()) as tmp:
                reader = _SignedUpload(Path(tmp), keys, uploads, settings.uploads.max_bytes)
                await reader.read(request)
                answer = await run_in_threadpool(
                    uploads.register_client_upload, reader.grant(), reader.path, reader.file_name
                )
        except ApiError as exc:
            status = 403 if exc.code.startswith("AuthFailure") else STATUS.get(exc.code, 400)
            return _error(exc, request_id, status)
        return JSONResponse(
            {
                "FileId": answer.file_id,
                "MediaUrl": answer.media_url,
                "ProcedureTaskId": answer.procedure_task_id,
                "RequestId": request_id,
            }
        )

    @app.get("/files/{key:path}", summary="Download a source or an output (ranges supported)")
    async def files(key: str) -> Response:
        try:
            validate_key(key)
            if isinstance(client.storage, S3Storage):  # the object store serves its own bytes
                return RedirectResponse(client.storage.url(key), status_code=307)
            path = client.storage.local_path(key, uploads.scratch())
        except (ValueError, FileNotFoundError):
            return _error(ApiError("no such file", "ResourceNotFound"), "", 404)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type)

    _mount_operations(app, settings, client)
    mount_console(app, client, uploads)
    return app


def _mount_operations(app: FastAPI, settings: Settings, client: Client) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics``: unsigned, for probes and Prometheus (README,
    "Monitoring"); they read Redis on clients of their own that fail fast."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from .health import Readiness
    from .metrics import create_registry, open_monitor

    monitor = open_monitor(settings.updated(redis_url=client.redis_url))
    registry = create_registry(monitor, max_frames=settings.limits.max_output_frames)
    readiness = Readiness(monitor, client.storage)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(readiness.check)
        ready = all(check.ok for check in checks)
        return JSONResponse(
            {
                "status": "ready" if ready else "unready",
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
            },
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def _check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise UploadTooLarge(f"the upload ({length} bytes) is larger than the limit of {limit}")


class _SignedUpload:
    """Streams a ``multipart/form-data`` client upload: the ``signature`` field must come first
    and is verified before the ``file`` part's bytes are written anywhere."""

    def __init__(self, tmp: Path, keys: Mapping[str, str], uploads: Uploads, limit: int) -> None:
        self.path = tmp / "file"
        self.file_name = "media"
        self.keys, self.uploads, self.limit = keys, uploads, limit
        self._signature = bytearray()
        self._grant: Any = None
        self._part = ""
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition = ""
        self._out: Any = None
        self._size = 0

    def grant(self) -> Any:
        if self._grant is None or self._out is None:
            raise ApiError("the form needs a 'signature' and a 'file' field", "InvalidParameter")
        return self._grant

    async def read(self, request: Request) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise ApiError("send multipart/form-data", "InvalidParameter")
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        finally:
            if self._out is not None:
                self._out.close()

    def _part_begin(self) -> None:
        self._disposition, self._part = "", ""

    def _header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = self._header_value.decode("latin-1")
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._part = params.get(b"name", b"").decode()
        if self._part != "file":
            return
        if self._grant is None:
            raise ApiError(
                "send the 'signature' field before 'file'", "AuthFailure.SignatureFailure"
            )
        name = params.get(b"filename", b"media").decode("utf-8", "replace")
        self.file_name = Path(name).name or "media"
        self._out = open(self.path, "wb")  # noqa: SIM115 - closed in read()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "signature":
            self._signature.extend(data[start:end])
        elif self._part == "file" and self._out is not None:
            self._size += end - start
            if self._size > self.limit:
                raise UploadTooLarge(f"the upload is larger than the limit of {self.limit} bytes")
            self._out.write(data[start:end])

    def _part_end(self) -> None:
        if self._part == "signature":
            grant = verify_upload_signature(self.keys, self._signature.decode("latin-1"))
            self.uploads.check_grant(grant)
            self._grant = grant
