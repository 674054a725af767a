"""Generate the registry's gRPC stubs from proto/ into registry/api/ (``make proto``).

The proto path stays ``meshgate/registry/v1/registry.proto`` (its package is the wire name), but our
``meshgate`` Python package is the CLI, so the modules land in ``registry/api/`` and the import in
``registry_pb2_grpc.py`` is rewritten to ``from registry.api import registry_pb2``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO = "meshgate/registry/v1/registry.proto"
TARGET = ROOT / "registry" / "api"
GENERATED = ("registry_pb2.py", "registry_pb2.pyi", "registry_pb2_grpc.py")
_GENERATED_IMPORT = "from meshgate.registry.v1 import registry_pb2 as"
_OUR_IMPORT = "from registry.api import registry_pb2 as"


def generate(target: Path = TARGET) -> list[Path]:
    """Run protoc into a temporary folder and write the three modules into ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        well_known = Path(protoc.__file__).parent / "_proto"
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"-I{well_known}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                str(PROTO_ROOT / PROTO),
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed on {PROTO} (exit {code})")
        produced = Path(tmp) / Path(PROTO).parent
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in GENERATED:
            text = (produced / name).read_text(encoding="utf-8")
            if name.endswith("_grpc.py"):
                if _GENERATED_IMPORT not in text:
                    raise SystemExit(f"{name}: expected import line {_GENERATED_IMPORT!r} not found")
                text = text.replace(_GENERATED_IMPORT, _OUR_IMPORT)
            (target / name).write_text(text, encoding="utf-8")
            written.append(target / name)
        return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
