"""The template and task-flow repositories against a real Redis."""

from __future__ import annotations

import redis

from animgraph.shared.models import AnimatedGraphicsTemplate, ProcedureTemplate
from animgraph.shared.state import State
from animgraph.shared.templates import FIRST_CUSTOM_DEFINITION, PRESETS


def test_presets_are_read_without_redis(state: State, raw: redis.Redis) -> None:
    assert state.templates.get(20000) == PRESETS[20000]
    assert state.templates.get(99) is None
    assert state.templates.count() == 0 and state.templates.custom() == []
    assert raw.dbsize() == 0


def test_custom_templates_get_the_next_definitions(state: State, raw: redis.Redis) -> None:
    asked = AnimatedGraphicsTemplate(definition=0, fps=5, name="a", type="Preset")
    first = state.templates.create(asked)
    second = state.templates.create(asked.model_copy(update={"name": "b"}))
    assert (first.definition, second.definition) == (
        FIRST_CUSTOM_DEFINITION,
        FIRST_CUSTOM_DEFINITION + 1,
    )
    assert first.type == "Custom" and first.create_time == first.update_time != ""
    assert raw.get(f"animgraph:template:{first.definition}") == first.model_dump_json()
    assert raw.get("animgraph:template:next") == "2"
    assert state.templates.get(first.definition) == first
    assert state.templates.count() == 2
    assert [t.name for t in state.templates.custom()] == ["a", "b"]

    renamed = first.model_copy(update={"name": "a2"})
    state.templates.put(renamed)
    assert state.templates.get(first.definition) == renamed
    assert state.templates.delete(first.definition) is True
    assert state.templates.delete(first.definition) is False
    assert [t.name for t in state.templates.custom()] == ["b"]
    assert raw.zrange("animgraph:templates", 0, -1) == [str(second.definition)]


def test_task_flows_by_name(state: State, raw: redis.Redis) -> None:
    flow = ProcedureTemplate.model_validate(
        {"Name": "teaser", "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]}}
    )
    assert state.flows.add(flow) is True
    assert state.flows.add(flow.model_copy(update={"comment": "again"})) is False
    assert raw.get("animgraph:procedure:teaser") == flow.model_dump_json()
    assert state.flows.get("teaser") == flow
    assert state.flows.get("other") is None

    changed = flow.model_copy(update={"comment": "changed"})
    assert state.flows.replace(changed) is True
    assert state.flows.replace(changed.model_copy(update={"name": "other"})) is False
    assert not raw.exists("animgraph:procedure:other")  # replace never creates
    assert state.flows.get("teaser") == changed

    later = flow.model_copy(update={"name": "later"})
    state.flows.add(later)
    assert [f.name for f in state.flows.all()] == ["teaser", "later"]  # oldest first
    assert state.flows.count() == 2
    assert state.flows.delete("teaser") is True and state.flows.delete("teaser") is False
    assert raw.zrange("animgraph:procedures", 0, -1) == ["later"]
