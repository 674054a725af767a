"""How a caller names a subject's version: a number, or the latest one.

The one parser of version arguments for the service and both servers (the REST path, gRPC fields,
Python calls), so ``"latest"``, ``-1`` and numbers mean the same everywhere. Importable without the
server: no store behind it.
"""

from __future__ import annotations

from registry.errors import InvalidArgument

LATEST = "latest"
MAX_VERSION = 2**31 - 1  # versions are 32-bit, as in Confluent


def parse_version(version: int | str) -> int | None:
    """None for the latest version (``"latest"``, ``-1``, ``"-1"``), else a number in 1…2³¹−1.

    Text must be ASCII digits (no sign, spaces or other scripts' digits); anything else is
    ``InvalidArgument`` naming the value.
    """
    if version in (LATEST, -1, "-1"):
        return None
    if isinstance(version, str) and version.isascii() and version.isdigit():
        number = int(version)
    elif isinstance(version, int) and not isinstance(version, bool):
        number = version
    else:
        number = 0
    if not 1 <= number <= MAX_VERSION:
        raise InvalidArgument(
            f"version {version!r} is not a valid version: expected a number between 1 and {MAX_VERSION} "
            "or 'latest'"
        )
    return number
