"""Compile ``.proto`` source into descriptors in-process, with protoc's errors translated.

grpc_tools bundles protoc as a C++ extension: we call it in this process (no subprocess, about a
millisecond per small file). protoc writes its diagnostics to file descriptor 2, which Python's
``sys.stderr`` does not see, so we point fd 2 at a temporary file while it runs. File descriptors are
process-wide, hence the lock: two threads compiling at once would swap each other's fd 2.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from registry.compat import MAX_SCHEMA_BYTES
from registry.errors import InvalidSchema, SourceLocation

MAIN_FILE = "meshgate_schema.proto"
"""Name the main schema gets inside the compile directory (and in its descriptor)."""

WELL_KNOWN_INCLUDE = str(importlib.resources.files("grpc_tools") / "_proto")

_PROTOC_LOCK = threading.Lock()
_ERROR_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


def compile_proto(
    text: str, references: Mapping[str, str] | None = None, source_name: str = "schema"
) -> descriptor_pb2.FileDescriptorSet:
    """The ``FileDescriptorSet`` of ``text`` plus every file it imports (``--include_imports``).

    ``references`` maps import paths (``common/money.proto``) to their source text.
    """
    references = dict(references or {})
    _refuse_unusable_input(text, source_name)
    for import_path, ref_text in references.items():
        _check_import_path(import_path, source_name)
        _refuse_unusable_input(ref_text, import_path)
    return _run_protoc(text, references, source_name)


def cache_key(text: str, references: Mapping[str, str] | None) -> str:
    """A digest of everything that determines a compile result (the text and every reference)."""
    digest = hashlib.sha256(text.encode("utf-8", errors="surrogatepass"))
    for name in sorted(references or {}):
        digest.update(
            b"\0" + name.encode() + b"\0" + references[name].encode("utf-8", errors="surrogatepass")
        )
    return digest.hexdigest()


def _refuse_unusable_input(text: str, source_name: str) -> None:
    """Refuse what protoc should never see: oversized, empty or binary input."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise InvalidSchema(
            "schema is not valid UTF-8 text: is this a binary file?", SourceLocation(source_name, line)
        ) from None
    if size > MAX_SCHEMA_BYTES:
        raise InvalidSchema(
            f"schema is {size} bytes, over the {MAX_SCHEMA_BYTES} byte cap", SourceLocation(source_name)
        )
    if not text.strip():
        raise InvalidSchema(
            "schema is empty: a .proto contract must define at least one message", SourceLocation(source_name)
        )
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise InvalidSchema(
            "schema contains a NUL byte: this is binary data, not .proto source text",
            SourceLocation(source_name, line, column),
        )


def _check_import_path(import_path: str, source_name: str) -> None:
    path = PurePosixPath(import_path)
    if path.is_absolute() or ".." in path.parts or not import_path.endswith(".proto"):
        raise InvalidSchema(
            f"reference {import_path!r} is not a relative .proto import path (like common/money.proto)",
            SourceLocation(source_name),
        )
    if import_path == MAIN_FILE:
        raise InvalidSchema(f"reference name {import_path!r} is reserved", SourceLocation(source_name))


def _run_protoc(
    text: str, references: Mapping[str, str], source_name: str
) -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory(prefix="meshgate-proto-") as tmp:
        root = Path(tmp) / "src"
        for import_path, ref_text in references.items():
            target = root / import_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ref_text, encoding="utf-8")
        root.mkdir(exist_ok=True)
        (root / MAIN_FILE).write_text(text, encoding="utf-8")
        out = Path(tmp) / "out.pb"
        args = [
            "protoc",
            f"--proto_path={root}",
            f"--proto_path={WELL_KNOWN_INCLUDE}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            str(root / MAIN_FILE),
        ]
        code, diagnostics = _protoc_capturing_fd2(args, Path(tmp) / "stderr.txt")
        if code != 0 or not out.exists():
            raise _translate_error(diagnostics, str(root), source_name)
        result = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return result


def _protoc_capturing_fd2(args: list[str], capture_path: Path) -> tuple[int, str]:
    with _PROTOC_LOCK, open(capture_path, "w+b") as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            code = protoc.main(args)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return code, capture.read().decode("utf-8", errors="replace")


def _translate_error(diagnostics: str, root: str, source_name: str) -> InvalidSchema:
    """The first protoc error (warnings skipped) as ``InvalidSchema`` with our file names, never temp paths."""
    lines = [line.strip() for line in diagnostics.splitlines() if line.strip()]
    lines = [line for line in lines if ": warning: " not in line] or lines
    for line in lines:
        match = _ERROR_LINE.match(line)
        if match:
            file_name = _public_name(match["file"], root, source_name)
            message = _strip_paths(match["message"], root, source_name)
            if "was not found" in message and message.startswith("Import "):
                message += " Pass the imported file's text as a reference under that import path."
            extra = len(lines) - 1
            if extra:
                message += f" (and {extra} more protoc message{'s' * (extra != 1)})"
            return InvalidSchema(message, SourceLocation(file_name, int(match["line"]), int(match["col"])))
    message = _strip_paths(" ".join(lines), root, source_name) or "protoc failed without a message"
    return InvalidSchema(message, SourceLocation(source_name))


def _public_name(file_name: str, root: str, source_name: str) -> str:
    relative = file_name.removeprefix(root).lstrip("/")
    return source_name if relative == MAIN_FILE else relative


def _strip_paths(message: str, root: str, source_name: str) -> str:
    message = message.replace(f"{root}/{MAIN_FILE}", source_name).replace(root + "/", "")
    return message.replace(f'"{MAIN_FILE}"', f'"{source_name}"')
