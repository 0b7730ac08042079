"""The console's web application, mounted at ``/console/`` by the API.

- ``/console/``: the page itself (static HTML, JS and CSS from ``static/``, no build step).
- ``/console/api/...``: JSON endpoints for the page. They call the same ``Client`` methods the
  API uses, so a refused value carries the API's ``Code`` and ``Message``; errors answer
  ``{"Error": {"Code", "Message"}}`` with a 4xx status.

Auth: ``POST /console/api/login`` with the console password (``ANIMGRAPH_CONSOLE_PASSWORD``) or
an API key pair sets a random session id in an ``HttpOnly; SameSite=Strict`` cookie (Redis keeps
its hash with a TTL). Every other endpoint needs that cookie, and every request that is not a
GET also needs the ``X-Animgraph-Console: 1`` header (a cross-site form cannot send it).
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from animgraph.shared.errors import ApiError

from ..client import Client
from ..uploads import Uploads, UploadTooLarge, receive_stream
from .service import TEMPLATE_FIELDS, VIDEO_FORMATS, ConsoleService, size_labels, task_summary

__all__ = ["COOKIE", "CSRF_HEADER", "create_console", "mount_console"]

log = logging.getLogger(__name__)
COOKIE = "animgraph_console"
CSRF_HEADER = "x-animgraph-console"
STATIC = Path(__file__).parent / "static"
STATUS = {
    "AuthFailure.SignIn": 401,
    "AuthFailure.SessionRequired": 401,
    "AuthFailure.ConsoleHeader": 403,
    "LimitExceeded.SignIn": 429,
    "LimitExceeded.UploadSize": 413,
    "ResourceNotFound": 404,
    "InternalError": 500,
}
Handler = Callable[[Request], Awaitable[Any]]


def _error(exc: ApiError) -> JSONResponse:
    status = STATUS.get(exc.code, 400)
    return JSONResponse({"Error": {"Code": exc.code, "Message": exc.message}}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ApiError("the body is not JSON", "InvalidParameter") from None
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object", "InvalidParameter")
    return body


class _Static(StaticFiles):
    """The page's files, with headers that keep it to itself (CSP, no framing, no caching)."""

    def __init__(self, directory: Path, csp: str) -> None:
        super().__init__(directory=directory, html=True, follow_symlink=True)
        self.csp = csp

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-cache"
        return response


def _csp() -> str:
    """Only our own scripts, styles and connections. Outputs may come from another origin
    (a public URL, an object store's presigned URLs): images and media may load from any
    http(s) address, which runs no code."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' blob: http: https:; media-src 'self' blob: http: https:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    )


def create_console(client: Client, uploads: Uploads) -> FastAPI:
    """The console application (routes relative to its mount point)."""
    service = ConsoleService(client)
    settings = client.settings
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def guarded(
        *, session: bool = True
    ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        """Refuse requests without a session (unless ``session`` is False) or, when they may
        change something, without the console header; turn ``ApiError`` into JSON."""

        def wrap(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            @functools.wraps(handler)
            async def run(request: Request, **kwargs: Any) -> Any:
                try:
                    if request.method != "GET" and request.headers.get(CSRF_HEADER) != "1":
                        raise ApiError(
                            "console requests need the X-Animgraph-Console header",
                            "AuthFailure.ConsoleHeader",
                        )
                    if session:
                        token = request.cookies.get(COOKIE, "")
                        if await run_in_threadpool(service.session_user, token) is None:
                            raise ApiError(
                                "sign in to the console first", "AuthFailure.SessionRequired"
                            )
                    result = await handler(request, **kwargs)
                except ApiError as exc:
                    return _error(exc)
                except Exception:
                    log.exception("console request failed")
                    return _error(ApiError("internal error; retry", "InternalError"))
                if isinstance(result, Response):
                    return result
                return JSONResponse(result)

            return run

        return wrap

    def call(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return run_in_threadpool(fn, *args)

    # --- session -----------------------------------------------------------------------------

    @console.get("/api/session")
    async def session_info(request: Request) -> JSONResponse:
        """Whether this browser is signed in, and which ways of signing in exist."""
        token = request.cookies.get(COOKIE, "")
        user = await run_in_threadpool(service.session_user, token)
        return JSONResponse(
            {
                "SignedIn": user is not None,
                "User": user or "",
                "PasswordSignIn": service.password_enabled,
                "KeySignIn": True,
            },
            headers={"Cache-Control": "no-store"},
        )

    @console.post("/api/login")
    @guarded(session=False)
    async def login(request: Request) -> Response:
        body = await _json(request)
        address = request.client.host if request.client else "-"
        if await call(service.too_many_failures, address):
            raise ApiError("too many failed sign-ins; wait a few minutes", "LimitExceeded.SignIn")
        password = str(body.get("Password") or "")
        secret_id = str(body.get("SecretId") or "")
        secret_key = str(body.get("SecretKey") or "")
        if not await call(service.check_credentials, password, secret_id, secret_key):
            await call(service.record_failure, address)
            raise ApiError(
                "the password or the key pair is wrong"
                if password or secret_id
                else "give the console password or an API key pair",
                "AuthFailure.SignIn",
            )
        who = secret_id if not password else "console"
        token = await call(service.open_session, who)
        response = JSONResponse({"SignedIn": True, "User": who})
        secure = request.url.scheme == "https" or (
            request.headers.get("x-forwarded-proto") == "https"
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=settings.console.session_ttl_s,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    @console.post("/api/logout")
    @guarded(session=False)
    async def logout(request: Request) -> Response:
        await call(service.close_session, request.cookies.get(COOKIE, ""))
        response = JSONResponse({"SignedIn": False})
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
        return response

    # --- media -------------------------------------------------------------------------------

    @console.get("/api/media")
    @guarded()
    async def media(request: Request) -> Any:
        return {"MediaSet": await call(service.list_media)}

    @console.post("/api/upload")
    @guarded()
    async def upload(request: Request) -> Any:
        """The request body is the file itself; ``MediaName``, ``MediaType`` and ``Procedure``
        come as query parameters. Runs ApplyUpload, the PUT and CommitUpload server-side."""
        query = request.query_params
        file_name = PurePosixPath(query.get("FileName", "") or "media").name
        media_type = query.get("MediaType") or PurePosixPath(file_name).suffix.lstrip(".")
        apply_request = {
            "MediaType": media_type or "mp4",
            "MediaName": query.get("MediaName") or PurePosixPath(file_name).stem,
        }
        if query.get("Procedure"):
            apply_request["Procedure"] = query["Procedure"]
        length = request.headers.get("content-length", "")
        limit = settings.uploads.max_bytes
        if length.isdigit() and int(length) > limit:
            raise UploadTooLarge(f"the upload ({length} bytes) is larger than the limit of {limit}")
        applied = await call(uploads.apply, apply_request)
        session_key = applied.vod_session_key
        stored_name = PurePosixPath(applied.media_storage_path).name
        session = await call(
            uploads.session_for_put, session_key, stored_name, applied.temp_certificate.token
        )
        with tempfile.TemporaryDirectory(dir=uploads.scratch()) as tmp:
            local = Path(tmp) / "upload"
            size = await receive_stream(request.stream(), local, limit)
            if size == 0:
                raise ApiError("the upload is empty", "InvalidParameterValue.MediaFile")
            await call(uploads.store_put, session_key, session, local)
        committed = await call(uploads.commit, {"VodSessionKey": session_key})
        return {**committed.wire(), "Size": size}

    @console.post("/api/process")
    @guarded()
    async def process(request: Request) -> Any:
        """``{FileId, ProcedureName}`` runs a task flow (ProcessMediaByProcedure); ``{FileId,
        MediaProcessTask}`` runs ad-hoc animated-image tasks (ProcessMedia)."""
        body = await _json(request)
        if "ProcedureName" in body:
            return {"TaskId": await call(client.process_media_by_procedure, body)}
        return {"TaskId": await call(client.process_media, body)}

    # --- templates ---------------------------------------------------------------------------

    @console.get("/api/templates")
    @guarded()
    async def templates(request: Request) -> Any:
        found = await call(service.all_templates)
        return {
            "AnimatedGraphicsTemplateSet": found,
            "Fields": TEMPLATE_FIELDS,
            "Sizes": size_labels(found),
        }

    @console.post("/api/templates")
    @guarded()
    async def create_template(request: Request) -> Any:
        body = await _json(request)
        return (await call(client.create_animated_graphics_template, body)).wire()

    @console.post("/api/templates/modify")
    @guarded()
    async def modify_template(request: Request) -> Any:
        body = await _json(request)
        return (await call(client.modify_animated_graphics_template, body)).wire()

    @console.post("/api/templates/delete")
    @guarded()
    async def delete_template(request: Request) -> Any:
        body = await _json(request)
        definition = body.get("Definition")
        if not isinstance(definition, int) or isinstance(definition, bool):
            raise ApiError("Definition must be an integer", "InvalidParameterValue.Definition")
        await call(client.delete_animated_graphics_template, definition)
        return {}

    # --- task flows --------------------------------------------------------------------------

    @console.get("/api/flows")
    @guarded()
    async def flows(request: Request) -> Any:
        return {"ProcedureTemplateSet": await call(service.all_flows)}

    @console.post("/api/flows")
    @guarded()
    async def create_flow(request: Request) -> Any:
        body = await _json(request)
        return (await call(client.create_procedure_template, body)).wire()

    @console.post("/api/flows/reset")
    @guarded()
    async def reset_flow(request: Request) -> Any:
        body = await _json(request)
        return (await call(client.reset_procedure_template, body)).wire()

    @console.post("/api/flows/delete")
    @guarded()
    async def delete_flow(request: Request) -> Any:
        body = await _json(request)
        await call(client.delete_procedure_template, str(body.get("Name") or ""))
        return {}

    # --- tasks -------------------------------------------------------------------------------

    @console.get("/api/tasks")
    @guarded()
    async def tasks(request: Request) -> Any:
        return {"TaskSet": await call(service.task_rows)}

    @console.get("/api/tasks/{task_id}")
    @guarded()
    async def task(request: Request, task_id: str) -> Any:
        detail = await call(client.describe_task_detail, task_id)
        return {
            "Summary": task_summary(detail),
            "Detail": detail.wire(),
            "Budgets": await call(service.budgets, detail),
            "VideoFormats": VIDEO_FORMATS,
        }

    @console.get("/api/{rest:path}")
    @guarded(session=False)
    async def unknown(request: Request, rest: str) -> Any:
        raise ApiError(f"no console endpoint {rest!r}", "ResourceNotFound")

    console.mount("/", _Static(STATIC, _csp()), name="console-static")
    return console


def mount_console(app: FastAPI, client: Client, uploads: Uploads) -> None:
    """Serve the console at ``/console/`` on ``app`` (the API application)."""

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    app.mount("/console", create_console(client, uploads), name="console")
