"""Uploads (contract §3): ApplyUpload -> PUT the bytes -> CommitUpload, and signed client uploads.

The bytes go from the request stream to a temporary file in chunks and from there to storage,
never whole into memory; a size limit is checked on the way.
"""

from __future__ import annotations

import hmac
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    ApplyUploadRequest,
    ApplyUploadResponse,
    CommitUploadRequest,
    CommitUploadResponse,
    EventContent,
    FileUploadEvent,
    TempCertificate,
)
from animgraph.shared.signing import UploadGrant

from .client import Client
from .services.media import safe_file_name
from .services.validation import parse

__all__ = ["UploadTooLarge", "Uploads", "receive_stream"]


class UploadTooLarge(ApiError):
    """The upload is larger than ``ANIMGRAPH_MAX_UPLOAD_BYTES``."""

    default_code = "LimitExceeded.UploadSize"


async def receive_stream(chunks: AsyncIterator[bytes], dest: Path, limit: int) -> int:
    """Write a request body to ``dest`` chunk by chunk; refuse it past ``limit`` bytes."""
    size = 0
    with open(dest, "wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(f"the upload is larger than the limit of {limit} bytes")
            out.write(chunk)
    return size


class Uploads:
    """Upload sessions and signed client uploads on top of a ``Client``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.settings = client.settings

    def scratch(self) -> Path:
        path = self.settings.data_dir.resolve() / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def apply(self, request: ApplyUploadRequest | Mapping[str, Any]) -> ApplyUploadResponse:
        """ApplyUpload: open an upload session; the bytes go to ``MediaStoragePath`` by PUT."""
        req = parse(ApplyUploadRequest, request)
        if req.procedure:
            self._check_procedure(req.procedure, "InvalidParameterValue.Procedure")
        # Hex, not URL-safe base64: a key starting with "-" is taken for an option by command-line
        # clients (tccli: "argument --VodSessionKey: expected one argument").
        session_key = secrets.token_hex(24)
        token = secrets.token_urlsafe(32)
        expires = int(time.time()) + self.settings.uploads.ttl_s
        name = safe_file_name(f"{req.media_name or 'media'}.{req.media_type.lower()}")
        path = f"/upload/{session_key}/{name}"
        self.client.state.uploads.put(
            session_key,
            {
                "token": token,
                "name": req.media_name or "media",
                "file": name,
                "procedure": req.procedure,
                "session_context": req.session_context,
                "source_context": req.source_context,
                "expires": expires,
                "uploaded": False,
                "file_id": "",
            },
            self.settings.uploads.ttl_s,
        )
        return ApplyUploadResponse(
            storage_bucket="animgraph",
            storage_region="local",
            vod_session_key=session_key,
            media_storage_path=path,
            temp_certificate=TempCertificate(
                secret_id="animgraph-upload", secret_key="-", token=token, expired_time=expires
            ),
        )

    def session_for_put(self, session_key: str, file_name: str, token: str) -> dict[str, Any]:
        """The open session a PUT may write to, or an ``ApiError`` saying why not."""
        session = self.client.state.uploads.get(session_key)
        if session is None or session["file"] != file_name:
            raise ApiError("no such upload session (it may have expired)", "ResourceNotFound")
        if not hmac.compare_digest(token, session["token"]):
            raise ApiError("the upload token does not match", "AuthFailure.TokenFailure")
        if session["file_id"]:
            raise ApiError("this upload is already committed", "FailedOperation.UploadCommitted")
        return session

    def store_put(self, session_key: str, session: Mapping[str, Any], local: Path) -> None:
        key = f"uploads/{session_key}/{session['file']}"
        self.client.storage.put_file(key, local, move=True)
        self.client.state.uploads.update(session_key, uploaded=True)

    def commit(self, request: CommitUploadRequest | Mapping[str, Any]) -> CommitUploadResponse:
        """CommitUpload: register the uploaded file; start its task flow if one was named."""
        req = parse(CommitUploadRequest, request)
        session = self.client.state.uploads.get(req.vod_session_key)
        if session is None:
            raise ApiError(
                "VodSessionKey is unknown or expired", "InvalidParameterValue.VodSessionKey"
            )
        if session["file_id"]:  # a repeated commit answers the same
            info = self.client.describe_media(session["file_id"])
            return CommitUploadResponse(
                file_id=info.file_id,
                media_url=info.file_url,
                procedure_task_id=session.get("task_id", ""),
            )
        if not session["uploaded"]:
            raise ApiError(
                "nothing was uploaded to this session's MediaStoragePath yet",
                "InvalidParameterValue.VodSessionKey",
            )
        key = f"uploads/{req.vod_session_key}/{session['file']}"
        file_id = secrets.token_hex(8)
        with tempfile.TemporaryDirectory(dir=self.scratch()) as tmp:
            local = self.client.storage.local_path(key, Path(tmp))
            info = self.client.register_stored(
                file_id, key, local, name=session["name"], source_context=session["source_context"]
            )
        task_id = ""
        if session["procedure"]:
            task_id = self.client.process_media_by_procedure(
                {
                    "FileId": file_id,
                    "ProcedureName": session["procedure"],
                    "SessionContext": session["session_context"],
                }
            )
        self.client.state.uploads.update(req.vod_session_key, file_id=file_id, task_id=task_id)
        self._announce(file_id, task_id)
        return CommitUploadResponse(
            file_id=file_id, media_url=info.file_url, procedure_task_id=task_id
        )

    def check_grant(self, grant: UploadGrant) -> None:
        """Refuse a reused one-time signature and a task flow that does not exist."""
        if grant.procedure:
            self._check_procedure(grant.procedure, "InvalidParameterValue.Procedure")
        if grant.one_time and not self.client.state.uploads.claim_once(
            f"signature:{grant.digest}", grant.expire_time - int(time.time()) + 60
        ):
            raise ApiError(
                "this one-time signature was already used", "AuthFailure.SignatureReused"
            )

    def register_client_upload(
        self, grant: UploadGrant, local: Path, file_name: str
    ) -> CommitUploadResponse:
        """Store and register a signed client upload; start its task flow if one was named."""
        file_id = secrets.token_hex(8)
        name = safe_file_name(file_name)
        key = f"sources/{file_id}/{name}"
        self.client.storage.put_file(key, local)
        info = self.client.register_stored(
            file_id, key, local, name=Path(name).stem, source_context=grant.source_context
        )
        task_id = ""
        if grant.procedure:
            task_id = self.client.process_media_by_procedure(
                {
                    "FileId": file_id,
                    "ProcedureName": grant.procedure,
                    "TasksPriority": grant.task_priority,
                    "TasksNotifyMode": grant.task_notify_mode,
                    "SessionContext": grant.session_context,
                }
            )
        self._announce(file_id, task_id)
        return CommitUploadResponse(
            file_id=file_id, media_url=info.file_url, procedure_task_id=task_id
        )

    def _announce(self, file_id: str, task_id: str) -> None:
        """The NewFileUpload event of a committed upload."""
        [item] = self.client.describe_media_infos({"FileIds": [file_id]}).media_info_set
        assert item.basic_info is not None
        event = EventContent(
            event_type="NewFileUpload",
            file_upload_event=FileUploadEvent(
                file_id=file_id,
                media_basic_info=item.basic_info,
                procedure_task_id=task_id,
                meta_data=item.meta_data,
            ),
        )
        self.client.publish(file_id, event)

    def _check_procedure(self, name: str, code: str) -> None:
        if self.client.state.flows.get(name) is None:
            raise ApiError(f"Procedure {name!r}: no such task flow", code)
