"""Watch across replicas: two ``meshgate serve`` processes on one PostgreSQL database.

A subscriber of replica 2 receives every event written through replica 1, in order; replica 2 is then
SIGKILLed (no goodbye to its streams), and the subscriber, whose target names both replicas, resumes
on replica 1 with nothing missed and nothing repeated, events written while it was away included.
"""

from __future__ import annotations

import json

from registry.client import RegistryClient
from tests.registry.registry_harness import meshgate_serve, unique_subject
from tests.registry.watch_harness import Subscriber

BEFORE, DURING, AFTER = 5, 5, 3  # versions written before the kill, right after it, after the resume


def _schema(index: int) -> str:
    return json.dumps(
        {"type": "record", "name": "Event", "fields": [{"name": f"f{index}", "type": "string"}]}
    )


def test_a_subscriber_of_a_killed_replica_resumes_on_the_other_with_no_gap_and_no_duplicate(
    postgres_url, tmp_path
):
    subject = unique_subject()
    store = ("--database-url", postgres_url, "--no-ui")
    with (
        meshgate_serve(tmp_path / "r1", *store) as replica_1,
        meshgate_serve(tmp_path / "r2", *store) as replica_2,
        RegistryClient(replica_1.grpc_target) as writer,
        Subscriber(f"{replica_2.grpc_target},{replica_1.grpc_target}", subject_prefix=subject) as subscriber,
    ):
        writer.set_config(subject, "NONE")  # event 1
        for index in range(BEFORE):
            writer.register(subject, _schema(index))
        before = subscriber.wait_for(1 + BEFORE)
        assert subscriber.stream.gaps == []  # all of them through replica 2's stream

        replica_2.process.kill()  # SIGKILL
        replica_2.process.wait()
        for index in range(BEFORE, BEFORE + DURING):
            writer.register(subject, _schema(index))
        resumed = subscriber.wait_for(1 + BEFORE + DURING)
        for index in range(BEFORE + DURING, BEFORE + DURING + AFTER):
            writer.register(subject, _schema(index))
        received = subscriber.wait_for(1 + BEFORE + DURING + AFTER)
        gaps = subscriber.stream.gaps
        assert subscriber.error is None

    assert [(e.type, e.version) for e in before][1:] == [
        ("VERSION_REGISTERED", v) for v in range(1, BEFORE + 1)
    ]
    assert len(resumed) == 1 + BEFORE + DURING
    sequences = [event.sequence for event in received]
    assert sequences == sorted(set(sequences)), "an event repeated or out of order"
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences))), "an event missed"
    assert [e.version for e in received[1:]] == list(range(1, BEFORE + DURING + AFTER + 1))
    assert [(gap.after_sequence, gap.address) for gap in gaps] == [
        (before[-1].sequence, replica_1.grpc_target)
    ]
