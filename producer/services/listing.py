"""The Describe* listings of templates and task flows: filter by ids and Type, then page."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Protocol, TypeVar

__all__ = ["filter_and_page"]


class _Typed(Protocol):
    @property
    def type(self) -> str: ...


T = TypeVar("T", bound=_Typed)


def filter_and_page(
    items: Sequence[T],
    *,
    key: Callable[[T], Hashable],
    wanted: Iterable[Hashable] | None,
    type_: str | None,
    offset: int,
    limit: int,
) -> tuple[int, tuple[T, ...]]:
    """The count of ``items`` whose ``key`` is ``wanted`` (all when None) and whose type is
    ``type_`` (any when empty), and the page of them from ``offset``."""
    found = list(items)
    if wanted is not None:
        chosen = set(wanted)
        found = [item for item in found if key(item) in chosen]
    if type_:
        found = [item for item in found if item.type == type_]
    return len(found), tuple(found[offset : offset + limit])
