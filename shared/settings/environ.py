"""Reading the settings tree from environment variables: each field from the variable its
``validation_alias`` names, at any depth, so the groups need no prefixes of their own."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["EnvironmentSource", "group_of", "merged", "values_from", "variable_of"]


def variable_of(field: FieldInfo) -> str | None:
    """The ``ANIMGRAPH_*`` variable of a setting (None for a group)."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else None


def group_of(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a field that holds a group of settings (None for a setting)."""
    kind = field.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def values_from(
    model: type[BaseModel], environ: Mapping[str, str], given: Mapping[str, Any]
) -> dict[str, Any]:
    """The raw values ``environ`` holds for ``model``'s fields, nested as the groups are and
    keyed by variable name, so that a bad value's error names its variable. A field ``given``
    already holds (by field or by variable name) is left out: keywords win over the environment.
    """
    # Names match in any case, as with pydantic-settings' own environment source.
    return _collect(model, {name.upper(): value for name, value in environ.items()}, given)


def _collect(
    model: type[BaseModel], environ: Mapping[str, str], given: Mapping[str, Any]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        group, variable = group_of(field), variable_of(field)
        if group is not None:
            inner = given.get(name, {})
            if isinstance(inner, Mapping):  # a group given as an object is taken whole
                values = _collect(group, environ, inner)
                if values:
                    found[name] = values
        elif variable and variable in environ and name not in given and variable not in given:
            found[variable] = environ[variable]
    return found


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` on top, nested dicts merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


class EnvironmentSource(PydanticBaseSettingsSource):
    """The process's variables for the whole tree, under the values given as keywords."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._environ = dict(os.environ)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError("the tree is read at once, in __call__")

    def __call__(self) -> dict[str, Any]:
        return values_from(self.settings_cls, self._environ, self.current_state)
