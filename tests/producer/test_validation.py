"""Every validation rule of contract §2, §4 and §5, table-driven: the exact code of contract §10,
a message naming the field, the value and the allowed range. Pure: no Redis."""

from __future__ import annotations

from typing import Any

import pytest

from animgraph.producer.services.flows import FLOW_CODES
from animgraph.producer.services.validation import parse
from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    ApplyUploadRequest,
    CreateAnimatedGraphicsTemplateRequest,
    CreateProcedureTemplateRequest,
    DescribeAnimatedGraphicsTemplatesRequest,
    DescribeMediaInfosRequest,
    DescribeProcedureTemplatesRequest,
    ModifyAnimatedGraphicsTemplateRequest,
    ProcessMediaByProcedureRequest,
    ProcessMediaRequest,
    WireModel,
)

RESOLUTION = "InvalidParameterValue.Resolution"  # the cloud's code for Width and Height alike
TEMPLATE_BAD = [
    ({}, "Fps", "is required"),
    ({"Fps": 0}, "Fps", "greater than or equal to 1"),
    ({"Fps": 61}, "Fps", "less than or equal to 60"),
    ({"Fps": 12.5}, "Fps", "12.5"),
    ({"Fps": 10, "Width": 127}, "Width", "128 to 4096"),
    ({"Fps": 10, "Width": 4097}, "Width", "128 to 4096"),
    ({"Fps": 10, "Width": -1}, "Width", "128 to 4096"),
    ({"Fps": 10, "Height": 127}, "Height", "128 to 4096"),
    ({"Fps": 10, "Height": 5000}, "Height", "128 to 4096"),
    ({"Fps": 10, "Quality": 0.5}, "Quality", "greater than or equal to 1"),
    ({"Fps": 10, "Quality": 101}, "Quality", "less than or equal to 100"),
    ({"Fps": 10, "Quality": float("nan")}, "Quality", "finite"),
    ({"Fps": 10, "Format": "png"}, "Format", "'apng', 'mp4' or 'webm'"),
    ({"Fps": 10, "MaxSize": "2XB"}, "MaxSize", "not a size"),
    ({"Fps": 10, "MaxSize": 999}, "MaxSize", "from 1000 bytes"),
    ({"Fps": 10, "ResolutionAdaptive": "auto"}, "ResolutionAdaptive", "'open' or 'close'"),
    ({"Fps": 10, "Name": "n" * 65}, "Name", "64"),
    ({"Fps": 10, "Comment": "c" * 257}, "Comment", "256"),
    ({"Fps": 10, "Colour": "red"}, "Colour", "Extra inputs"),
    # the loop extensions (contract §2.5)
    ({"Fps": 10, "LoopMode": "Boomerang"}, "LoopMode", "'PingPong' or 'Seamless'"),
    ({"Fps": 10, "LoopMode": "pingpong"}, "LoopMode", "'PingPong'"),
    ({"Fps": 10, "LoopCount": -1}, "LoopCount", "greater than or equal to 0"),
    ({"Fps": 10, "LoopCount": 65536}, "LoopCount", "less than or equal to 65535"),
    ({"Fps": 10, "LoopCount": 2.5}, "LoopCount", "2.5"),
    ({"Fps": 10, "SeamWindow": 0}, "SeamWindow", "greater than 0"),
    ({"Fps": 10, "SeamWindow": 3.5}, "SeamWindow", "less than or equal to 3"),
    ({"Fps": 10, "SeamWindow": float("inf")}, "SeamWindow", "finite"),
    ({"Fps": 10, "HighlightDuration": 0.2}, "HighlightDuration", "0.5 to 30"),
    ({"Fps": 10, "HighlightDuration": 31}, "HighlightDuration", "0.5 to 30"),
    ({"Fps": 10, "HighlightDuration": -2}, "HighlightDuration", "0 (off)"),
]
TEMPLATE_CODES = {"Width": RESOLUTION, "Height": RESOLUTION, "Colour": "UnknownParameter"}


def _template_code(field: str) -> str:
    return TEMPLATE_CODES.get(field, f"InvalidParameterValue.{field}")


@pytest.mark.parametrize(("fields", "field", "says"), TEMPLATE_BAD)
def test_create_template_refusals(fields: dict[str, Any], field: str, says: str) -> None:
    _refused(CreateAnimatedGraphicsTemplateRequest, fields, _template_code(field), field, says)


@pytest.mark.parametrize(("fields", "field", "says"), [b for b in TEMPLATE_BAD if b[1] != "Fps"])
def test_modify_template_refusals(fields: dict[str, Any], field: str, says: str) -> None:
    changes = {k: v for k, v in fields.items() if k != "Fps"}
    _refused(
        ModifyAnimatedGraphicsTemplateRequest,
        {"Definition": 100001, **changes},
        _template_code(field),
        field,
        says,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"Fps": 1},
        {"Fps": 60, "Width": 128, "Height": 4096, "Quality": 1},
        {"Fps": 30, "Width": 0, "Height": 0, "Quality": 100, "Format": "webp"},
        {"Fps": 5, "ResolutionAdaptive": "close", "Name": "n" * 64, "Comment": "c" * 256},
        {"Fps": 5, "LoopMode": "PingPong", "LoopCount": 65535, "SeamWindow": 3},
        {"Fps": 5, "LoopMode": "Seamless", "LoopCount": 1, "SeamWindow": 0.01},
        {"Fps": 5, "LoopMode": "Reverse", "HighlightDuration": 0.5},
        {"Fps": 5, "HighlightDuration": 30, "LoopCount": 0},
    ],
)
def test_create_template_accepts_the_edges(fields: dict[str, Any]) -> None:
    assert parse(CreateAnimatedGraphicsTemplateRequest, fields).fps == fields["Fps"]


def test_template_defaults() -> None:
    req = parse(CreateAnimatedGraphicsTemplateRequest, {"Fps": 10})
    assert (req.format, req.width, req.height, req.resolution_adaptive, req.quality) == (
        "gif", 0, 0, "open", 75.0,
    )  # fmt: skip
    # the loop extensions default to today's output: forward, forever, no highlight
    loop = (req.loop_mode, req.loop_count, req.seam_window, req.highlight_duration)
    assert loop == ("Forward", 0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        (DescribeAnimatedGraphicsTemplatesRequest, {"Limit": 101}, "Limit"),
        (DescribeAnimatedGraphicsTemplatesRequest, {"Limit": 0}, "Limit"),
        (DescribeAnimatedGraphicsTemplatesRequest, {"Offset": -1}, "Offset"),
        (DescribeAnimatedGraphicsTemplatesRequest, {"Type": "Mine"}, "Type"),
        (DescribeAnimatedGraphicsTemplatesRequest, {"Definitions": list(range(101))}, "Definitions"),
        (DescribeProcedureTemplatesRequest, {"Names": ["a"] * 101}, "Names"),
        (DescribeProcedureTemplatesRequest, {"Limit": 500}, "Limit"),
        (ProcessMediaRequest, {"MediaProcessTask": {}}, "FileId"),
        (ProcessMediaRequest, {"FileId": "f", "MediaProcessTask": {}, "TasksPriority": -11}, "TasksPriority"),
        (ProcessMediaRequest, {"FileId": "f", "MediaProcessTask": {}, "TasksNotifyMode": "Always"}, "TasksNotifyMode"),
        (
            ProcessMediaRequest,
            {"FileId": "f", "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": float("inf")}]}},
            "StartTimeOffset",
        ),
        (ProcessMediaByProcedureRequest, {"FileId": "f"}, "ProcedureName"),
    ],
)  # fmt: skip
def test_request_refusals(model: type[WireModel], fields: dict[str, Any], field: str) -> None:
    _refused(model, fields, f"InvalidParameterValue.{field}", field, field)


# Codes the cloud API names otherwise than InvalidParameterValue.<Field> (contract §10): a
# repeated SessionId is InvalidParameterValue.SessionId, one too long is ...SessionIdTooLong.
PROCESS = {"FileId": "f", "MediaProcessTask": {}}
CLOUD_NAMED = [
    (ProcessMediaRequest, {**PROCESS, "SessionId": "s" * 51}, "SessionIdTooLong", "SessionId", "at most 50"),
    (ProcessMediaRequest, {**PROCESS, "SessionContext": "s" * 1001}, "SessionContextTooLong", "SessionContext", "at most 1000"),
    (ProcessMediaByProcedureRequest, {"FileId": "f", "ProcedureName": "p", "SessionId": "s" * 51}, "SessionIdTooLong", "SessionId", "at most 50"),
    (ProcessMediaByProcedureRequest, {"FileId": "f", "ProcedureName": "p", "SessionContext": "s" * 1001}, "SessionContextTooLong", "SessionContext", "at most 1000"),
    (ApplyUploadRequest, {"MediaType": "mp4", "SessionContext": "s" * 1001}, "SessionContextTooLong", "SessionContext", "at most 1000"),
    (DescribeMediaInfosRequest, {"FileIds": []}, "FileIdsEmpty", "FileIds", "at least 1"),
    (DescribeMediaInfosRequest, {"FileIds": ["f"] * 21}, "FileIdsOverLimit", "FileIds", "at most 20"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "fields", "code", "field", "says"), CLOUD_NAMED)
def test_codes_named_as_the_cloud_names_them(
    model: type[WireModel], fields: dict[str, Any], code: str, field: str, says: str
) -> None:
    _refused(model, fields, f"InvalidParameterValue.{code}", field, says)


def test_at_the_limits_session_fields_pass() -> None:
    req = parse(
        ProcessMediaRequest, {**PROCESS, "SessionId": "s" * 50, "SessionContext": "c" * 1000}
    )
    assert (len(req.session_id), len(req.session_context)) == (50, 1000)


@pytest.mark.parametrize("name", ["", "has space", "x" * 21, "ünïcode", "semi;colon"])
def test_task_flow_names(name: str) -> None:
    with pytest.raises(ApiError) as info:
        parse(CreateProcedureTemplateRequest, {"Name": name}, FLOW_CODES)
    assert info.value.code == "InvalidParameterValue.ProcedureName"


@pytest.mark.parametrize("name", ["a", "teaser-2_B", "x" * 20])
def test_task_flow_names_accepted(name: str) -> None:
    assert parse(CreateProcedureTemplateRequest, {"Name": name}, FLOW_CODES).name == name


def _refused(
    model: type[WireModel], fields: dict[str, Any], code: str, field: str, says: str
) -> None:
    with pytest.raises(ApiError) as info:
        parse(model, fields)
    assert info.value.code == code
    assert field in info.value.message and says in info.value.message, info.value.message
