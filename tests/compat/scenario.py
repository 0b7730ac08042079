"""The one scenario every client runs: its names and parameters (``Plan``), its steps over a
client (``run``) and the checks on what the client read back (``check``).

The Node.js script (scenario.mjs) replays the same steps from ``Plan.wire()`` and prints the
same transcript, so every client is held to the one ``check``. The upload's PUT is never made
by the API client itself (the cloud's SDKs upload through the object store's own SDK), so each
test does it as that client's users would, with a plain HTTP client.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

SECRET_ID, SECRET_KEY = "AKIDanimgraphcompat", "compat-secret-key"
FINISH_WAIT_S = 120
EVENT_WAIT_S = 30
REFUSED = ("CreateAnimatedGraphicsTemplate", {"Fps": 61}, "InvalidParameterValue.Fps")
# The request methods and signatures the SDKs offer (ClientProfile.signMethod), with the short
# names that tag each mode's run.
METHODS = ("POST", "GET")
SIGN_METHODS = {"TC3-HMAC-SHA256": "tc3", "HmacSHA256": "sha256", "HmacSHA1": "sha1"}

Transcript = dict[str, Any]
Put = Callable[[str, str, Path], None]  # (url, token, file): the upload's PUT


class Caller(Protocol):
    """One client, configured: ``call`` answers the response's fields (``Response`` without the
    envelope), ``refused`` the error code of a call the API must refuse."""

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def refused(self, action: str, params: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class Plan:
    """One client's run. ``tag`` (at most 20 of ``[A-Za-z0-9_-]``, a flow name's limit) names
    its template, flow and media, so clients sharing one stack stay apart."""

    tag: str
    host: str
    clip: Path
    scheme: str = "http"
    ca: Path | None = None  # the CA that signed the API's certificate, on https

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's ``verify`` for the API's own URLs."""
        return ssl.create_default_context(cafile=self.ca) if self.ca else True

    def template(self) -> dict[str, Any]:
        # Small and slow-moving so the task takes a second: 5 frames of 128 px.
        return {"Name": f"compat {self.tag}", "Format": "gif", "Width": 128, "Fps": 5}

    @staticmethod
    def tasks(definition: int) -> dict[str, Any]:
        return {
            "AnimatedGraphicTaskSet": [
                {"Definition": definition, "StartTimeOffset": 1, "EndTimeOffset": 2}
            ]
        }

    @classmethod
    def for_mode(cls, runtime: str, method: str, sign_method: str, host: str, clip: Path) -> Plan:
        return cls(f"{runtime}-{method.lower()}-{SIGN_METHODS[sign_method]}", host, clip)

    def wire(self, method: str, sign_method: str) -> dict[str, Any]:
        """The plan as the Node.js script reads it, with the client's settings."""
        action, params, _ = REFUSED
        return {
            "tag": self.tag,
            "host": self.host,
            "protocol": f"{self.scheme}://",
            "secretId": SECRET_ID,
            "secretKey": SECRET_KEY,
            "reqMethod": method,
            "signMethod": sign_method,
            "clip": str(self.clip),
            "template": self.template(),
            "tasks": self.tasks(0),  # Definition filled in by the script
            "refused": {"action": action, "params": params},
            "finishWaitS": FINISH_WAIT_S,
            "eventWaitS": EVENT_WAIT_S,
        }


def compact(value: Any) -> Any:
    """``value`` without null fields: the SDKs write absent optional fields as null."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def run(caller: Caller, plan: Plan, put: Put) -> Transcript:
    """The scenario's steps, in order; what each step answered goes into the transcript."""
    template = caller.call("CreateAnimatedGraphicsTemplate", plan.template())
    tasks = plan.tasks(template["Definition"])
    caller.call("CreateProcedureTemplate", {"Name": plan.tag, "MediaProcessTask": tasks})
    flows = caller.call("DescribeProcedureTemplates", {"Names": [plan.tag]})
    applied = caller.call("ApplyUpload", {"MediaType": plan.clip.suffix[1:], "MediaName": plan.tag})
    put(plan.endpoint + applied["MediaStoragePath"], applied["TempCertificate"]["Token"], plan.clip)
    upload = caller.call("CommitUpload", {"VodSessionKey": applied["VodSessionKey"]})
    task = caller.call(
        "ProcessMedia",
        {"FileId": upload["FileId"], "MediaProcessTask": tasks, "SessionContext": plan.tag},
    )
    detail = _until_finish(caller, task["TaskId"])
    events = _own_events(caller, task["TaskId"], upload["FileId"])
    confirmed = caller.call("ConfirmEvents", {"EventHandles": [e["EventHandle"] for e in events]})
    action, params, _ = REFUSED
    return {
        "template": template,
        "flows": flows,
        "upload": upload,
        "taskId": task["TaskId"],
        "detail": detail,
        "events": events,
        "confirmed": confirmed,
        "refused": caller.refused(action, params),
    }


def _until_finish(caller: Caller, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + FINISH_WAIT_S
    while (detail := caller.call("DescribeTaskDetail", {"TaskId": task_id}))["Status"] != "FINISH":
        assert time.monotonic() < deadline, f"{task_id} is still {detail['Status']}"
        time.sleep(0.3)
    return detail


def _own_events(caller: Caller, task_id: str, file_id: str) -> list[dict[str, Any]]:
    """Pull until this task's ProcedureStateChanged arrives; keep only this run's events (the
    others belong to other clients and come back to them unconfirmed)."""
    own: list[dict[str, Any]] = []
    deadline = time.monotonic() + EVENT_WAIT_S
    while not any(e["EventType"] == "ProcedureStateChanged" for e in own):
        assert time.monotonic() < deadline, f"no ProcedureStateChanged for {task_id}"
        for event in compact(caller.call("PullEvents", {})).get("EventSet", []):
            if (
                event.get("ProcedureStateChangeEvent", {}).get("TaskId") == task_id
                or event.get("FileUploadEvent", {}).get("FileId") == file_id
            ):
                own.append(event)
    return own


def check(transcript: Transcript, plan: Plan) -> None:
    """What every client must have read back."""
    t = compact(transcript)
    definition = t["template"]["Definition"]
    assert definition >= 100001
    assert t["flows"]["TotalCount"] == 1
    [flow] = t["flows"]["ProcedureTemplateSet"]
    assert flow["Name"] == plan.tag
    assert flow["MediaProcessTask"]["AnimatedGraphicTaskSet"][0]["Definition"] == definition
    assert t["upload"]["FileId"] and t["upload"]["MediaUrl"].startswith(plan.endpoint + "/files/")
    detail = t["detail"]
    assert detail["TaskType"] == "Procedure" and detail["Status"] == "FINISH"
    procedure = detail["ProcedureTask"]
    assert procedure["FileId"] == t["upload"]["FileId"] and procedure["SessionContext"] == plan.tag
    [result] = procedure["MediaProcessResultSet"]
    sub = result["AnimatedGraphicTask"]
    assert sub["Status"] == "SUCCESS", sub.get("Message")
    output = sub["Output"]
    assert len(output["Md5"]) == 32 and output["Size"] > 0
    assert output["Url"].startswith(plan.endpoint + "/files/")
    body = httpx.get(output["Url"], verify=plan.verify).content
    assert (len(body), hashlib.md5(body).hexdigest()) == (output["Size"], output["Md5"])
    assert body[:6] == b"GIF89a" and output["Width"] == 128
    changed = [e for e in t["events"] if e["EventType"] == "ProcedureStateChanged"]
    assert [e["ProcedureStateChangeEvent"]["TaskId"] for e in changed] == [t["taskId"]]
    assert changed[0]["ProcedureStateChangeEvent"]["Status"] == "FINISH"
    assert all(e["EventHandle"] for e in t["events"]) and t["confirmed"]["RequestId"]
    assert t["refused"] == REFUSED[2]
