"""Task flows (procedure templates): named, saved ``AnimatedGraphicTaskSet``s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    CreateProcedureTemplateRequest,
    DescribeProcedureTemplatesRequest,
    DescribeProcedureTemplatesResponse,
    ProcedureTemplate,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import State

from .listing import filter_and_page
from .validation import parse

__all__ = ["FLOW_CODES", "FlowService"]

# A task flow's Name is refused as InvalidParameterValue.ProcedureName, as the cloud API does.
FLOW_CODES = {"Name": "ProcedureName"}


def no_such_flow(name: str) -> ApiError:
    return ApiError(
        f"ProcedureName {name!r}: no such task flow", "InvalidParameterValue.ProcedureName"
    )


class FlowService:
    """Create, Reset, Delete and DescribeProcedureTemplates."""

    def __init__(self, settings: Settings, state: State) -> None:
        self.settings = settings
        self.state = state

    def create(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """CreateProcedureTemplate: a named, saved ``AnimatedGraphicTaskSet``."""
        req = parse(CreateProcedureTemplateRequest, request, FLOW_CODES)
        if self.state.flows.count() >= self.settings.limits.max_procedure_templates:
            raise ApiError(
                f"there are already {self.settings.limits.max_procedure_templates} task flows",
                "LimitExceeded.TooMuchTemplate",
            )
        stamp = now_iso()
        flow = ProcedureTemplate(**req.model_dump(), create_time=stamp, update_time=stamp)
        if not self.state.flows.add(flow):
            raise ApiError(
                f"a task flow named {req.name!r} already exists",
                "InvalidParameter.ExistedProcedureName",
            )
        return flow

    def reset(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """ResetProcedureTemplate: replace a task flow's content (keeps its CreateTime)."""
        req = parse(CreateProcedureTemplateRequest, request, FLOW_CODES)
        current = self.get(req.name)
        flow = ProcedureTemplate(
            **req.model_dump(), create_time=current.create_time, update_time=now_iso()
        )
        if not self.state.flows.replace(flow):
            raise no_such_flow(req.name)
        return flow

    def delete(self, name: str) -> None:
        """DeleteProcedureTemplate."""
        if not self.state.flows.delete(name):
            raise no_such_flow(name)

    def describe(
        self, request: DescribeProcedureTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeProcedureTemplatesResponse:
        """DescribeProcedureTemplates: task flows by creation time, filtered and paged."""
        req = parse(DescribeProcedureTemplatesRequest, request or {})
        total, page = filter_and_page(
            self.state.flows.all(),
            key=lambda f: f.name,
            wanted=req.names,
            type_=req.type,
            offset=req.offset,
            limit=req.limit,
        )
        return DescribeProcedureTemplatesResponse(total_count=total, procedure_template_set=page)

    def get(self, name: str) -> ProcedureTemplate:
        flow = self.state.flows.get(name)
        if flow is None:
            raise no_such_flow(name)
        return flow
