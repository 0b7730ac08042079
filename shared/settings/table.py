"""Every setting as a user sees it (variable, place in the tree, default, meaning), and the
README's configuration table made from them: ``python -m animgraph.shared.settings.table``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from pydantic import BaseModel, SecretStr

from animgraph.shared.settings import Settings
from animgraph.shared.settings.environ import group_of, variable_of

__all__ = ["SettingInfo", "describe_settings", "settings_table"]


class SettingInfo(NamedTuple):
    """One setting."""

    variable: str
    """``ANIMGRAPH_...``"""
    path: str
    """Its place in the tree: ``worker.max_attempts`` is ``settings.worker.max_attempts``."""
    default: str
    """The default as the variable would be written (in backquotes), or ``unset``/``empty``."""
    description: str


def _shown(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return "unset"
    if value in ("", ()):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 30, as one would write the variable, rather than 30.0
    return f"`{value}`"


def _walk(model: type[BaseModel], prefix: str) -> Iterator[SettingInfo]:
    for name, field in model.model_fields.items():
        group, variable = group_of(field), variable_of(field)
        if group is not None:
            yield from _walk(group, f"{prefix}{name}.")
        elif variable is not None:
            default = field.get_default(call_default_factory=True)
            yield SettingInfo(variable, prefix + name, _shown(default), field.description or "")


def describe_settings() -> list[SettingInfo]:
    """Every setting of the tree, in the tree's order."""
    return list(_walk(Settings, ""))


def settings_table() -> str:
    """The README's configuration table (Markdown)."""
    rows = ["| variable | setting | default | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{s.variable}` | `{s.path}` | {s.default} | {s.description} |"
        for s in describe_settings()
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
