"""The demo's registry step: a real server on the example contracts, stopped by the demo's cleanup."""

from __future__ import annotations

import contextlib
import io

import pytest
from rich.console import Console

from meshgate.demo import DemoContext, step_registry
from registry.client import RegistryClient
from registry.errors import Unavailable


def test_registry_step_evolves_every_example_contract_and_rejects_the_breaking_ones(tmp_path):
    output = io.StringIO()
    with contextlib.ExitStack() as cleanup:
        ctx = DemoContext(data_dir=tmp_path, console=Console(file=output, width=200), cleanup=cleanup)
        (tmp_path / "registry.db").write_text("left over from an earlier run")
        outcome = step_registry(ctx)
        target = ctx.state["registry_target"]
        with RegistryClient(target) as client:
            assert client.list_versions("checkout.CheckoutCompleted") == [1, 2]
            assert client.latest("identity.UserSignedUp").metadata.mask_pii_at == "bronze"
    assert outcome == "3 subjects at v2, 3 breaking v3 rejected"
    assert "TYPE_CHANGED CheckoutCompleted.amount" in output.getvalue()
    with RegistryClient(target, timeout=2) as client, pytest.raises(Unavailable):
        client.list_subjects()  # the demo's cleanup stopped the server
