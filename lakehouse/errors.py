"""Errors of the lakehouse gate.

``InvalidBatch`` means a file cannot be decoded at all (truncated, wrong compression, wrong magic byte,
unknown schema id, a line over the size cap, JSON that is not an object): nothing of the batch may
enter Bronze. Row-level problems are not errors but ``lakehouse.validate.RowViolation`` values.
"""

from __future__ import annotations

from registry.errors import MeshgateError


class InvalidBatch(MeshgateError):
    """A batch file that cannot be decoded; ``str()`` reads ``file:row (byte N): message``."""

    grpc_status = "INVALID_ARGUMENT"
    http_status = 422
    error_code = 42220

    def __init__(
        self,
        message: str,
        file: str | None = None,
        row: int | None = None,
        byte_offset: int | None = None,
        field: str | None = None,
    ):
        self.file = file
        self.row = row
        self.byte_offset = byte_offset
        self.field = field
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.row is not None:
            where += f":{self.row}"
        if self.byte_offset is not None:
            where += f" (byte {self.byte_offset})"
        field = f" field {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"
