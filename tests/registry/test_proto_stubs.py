"""The committed gRPC stubs in registry/api/ match what proto/ generates (run ``make proto`` if not)."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _gen_proto():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_are_what_the_proto_generates(tmp_path):
    gen_proto = _gen_proto()
    for fresh in gen_proto.generate(tmp_path):
        committed = gen_proto.TARGET / fresh.name
        assert committed.read_text() == fresh.read_text(), f"{committed} is stale: run `make proto`"


def test_grpc_stub_imports_the_message_module_from_registry_api(tmp_path):
    gen_proto = _gen_proto()
    grpc_module = next(p for p in gen_proto.generate(tmp_path) if p.name == "registry_pb2_grpc.py")
    assert "from registry.api import registry_pb2 as" in grpc_module.read_text()
    assert "from meshgate.registry" not in grpc_module.read_text()
