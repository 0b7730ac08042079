"""The exceptions of animgraph, split by what the caller does with them (codes: contract §10).

::

    AnimgraphError                    every error here; ``str(err)`` is safe to show a user
    ├── ApiError                      a request refused at once; nothing was enqueued
    │                                 (``code`` such as ``InvalidParameterValue.FileId``)
    ├── SubtaskError                  permanent: report it in the result set, do not retry
    │   ├── InvalidInputError         ``InvalidInput[.X]``       ErrCode 40000
    │   ├── SourceFileError           ``SourceFileError[.X]``    ErrCode 60000
    │   └── InternalSubtaskError      ``InternalError``          ErrCode 70000
    └── TransientError                retry: storage or Redis unavailable for a while

Library errors (PyAV, OSError) are wrapped at the seam where they happen. Every exception
here pickles and round-trips through JSON as ``(code, message)``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AnimgraphError",
    "ApiError",
    "InternalSubtaskError",
    "InvalidInputError",
    "SourceFileError",
    "SubtaskError",
    "TransientError",
    "subtask_error",
]


class AnimgraphError(Exception):
    """Base of every animgraph error: a stable string ``code`` and a user-safe message."""

    default_code: ClassVar[str] = "InternalError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self) -> tuple[type[AnimgraphError], tuple[str, str]]:
        return (type(self), (self.message, self.code))


class ApiError(AnimgraphError):
    """A request that is refused as a whole (contract §5, §10: malformed, unknown FileId, ...)."""

    default_code = "InvalidParameter"


class SubtaskError(AnimgraphError):
    """A subtask failed for a reason that retrying will not change."""

    err_code: ClassVar[int] = 70000


class InvalidInputError(SubtaskError):
    default_code = "InvalidInput"
    err_code = 40000


class SourceFileError(SubtaskError):
    default_code = "SourceFileError"
    err_code = 60000


class InternalSubtaskError(SubtaskError):
    default_code = "InternalError"
    err_code = 70000


class TransientError(AnimgraphError):
    """A fault worth retrying: the storage or Redis did not answer."""

    default_code = "InternalError"


def subtask_error(code: str, message: str) -> SubtaskError:
    """The SubtaskError for an ``ErrCodeExt`` string (used when a record crosses JSON)."""
    if code.startswith("InvalidInput"):
        return InvalidInputError(message, code)
    if code.startswith("SourceFileError"):
        return SourceFileError(message, code)
    return InternalSubtaskError(message, code)
