"""Every entry point fuzzed for its time budget (harness.py): schema texts over REST and gRPC, REST
requests (routes, paths, queries, bodies), gRPC messages built from the descriptors and raw bytes,
contract files, meshgate.yaml, and the gate's input formats (gate_inputs.py: JSON Lines, Avro, Protobuf,
Confluent dumps, each plain, gzip or zstd)."""

from __future__ import annotations

import pytest

from tests.registry.fuzz.console_inputs import CHECKS
from tests.registry.fuzz.harness import fuzz


@pytest.mark.parametrize("entry", sorted(CHECKS))
def test_hostile_input_never_reaches_a_500_internal_or_traceback(targets, entry):
    strategy, check = CHECKS[entry]
    fuzz(entry, strategy, lambda value: check(targets, value))
