"""Domain errors that every interface (HTTP, CLI, worker) turns into its own shape."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldProblem:
    path: str
    reason: str
    line: int | None = None  # where in a submitted document (1-based), when the problem is in one
    column: int | None = None


@dataclass
class DomainError(Exception):
    """An error a caller can act on; ``code`` is stable, ``message`` is for humans."""

    code: str
    message: str
    fields: list[FieldProblem] = field(default_factory=list)
    status: int = 422

    def __str__(self) -> str:
        return self.message


def invalid(path: str, reason: str, *, code: str = "validation_error") -> DomainError:
    return DomainError(code, f"{path}: {reason}", [FieldProblem(path, reason)], 422)


def conflict(code: str, message: str, fields: list[FieldProblem] | None = None) -> DomainError:
    return DomainError(code, message, fields or [], 409)


def not_found(what: str) -> DomainError:
    return DomainError("not_found", f"{what} not found", [], 404)
