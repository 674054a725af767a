"""The scaled-out topology for real: ``meshgate dev cluster`` started as a subprocess (PostgreSQL, moto's
S3 server, two registry replicas, the Dagster daemon and webserver), then the story and its faults.

The tests of this module share one cluster and run in order: the story, replica 1 killed during a
burst of registrations, then SIGTERM stops everything. Nothing is mocked: moto is a real S3 HTTP
server (no object store is reachable here), every other part is the real one.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from meshgate.cli import main
from meshgate.cluster import process_tree
from tests.conftest import EXAMPLES, ROOT, postgres_database

pytestmark = pytest.mark.timeout(900)

CHECKOUT = "checkout.CheckoutCompleted"
TABLE = "checkout__checkout_completed"
ROWS = 200
STORY_TIMEOUT = 420.0  # seconds for the daemon's sensors and runs on a busy 2-core machine
WRITERS, WRITES = 4, 25


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_cluster(folder: Path, *options: str):
    """``meshgate dev cluster`` on a fresh PostgreSQL database; what it printed when ready."""
    with postgres_database() as url:
        command = [sys.executable, "-m", "meshgate.cli", "dev", "cluster", "--dir", str(folder)]
        process = subprocess.Popen(
            [*command, "--postgres-url", url, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        lines: queue.Queue[str] = queue.Queue()
        output: list[str] = []

        def drain() -> None:
            for line in process.stdout:
                output.append(line)
                lines.put(line)

        threading.Thread(target=drain, daemon=True).start()
        info = None
        deadline = time.monotonic() + 300
        while info is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith('{"ready"'):
                info = json.loads(line)["ready"]
        try:
            assert info is not None, "cluster not ready:\n" + "".join(output)
            yield SimpleNamespace(process=process, info=info, output=output, folder=folder)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from _start_cluster(tmp_path_factory.mktemp("cluster"))


def _replicas(cluster) -> list[str]:
    return cluster.info["registry"].split(",")


class Subscriber:
    """A Watch stream read in a thread: every event it delivered, in order."""

    def __init__(self, target: str, after_sequence: int = 0):
        from registry.client import RegistryClient

        self.client = RegistryClient(target)
        self.stream = self.client.watch(after_sequence=after_sequence)
        self.events: list = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for event in self.stream:
            self.events.append(event)

    def wait_for(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if predicate(e)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no such event within {timeout} s; got {self.events}")

    def close(self) -> None:
        self.stream.close()
        self.thread.join(10)
        self.client.close()


def _wait(what: str, found, timeout: float = STORY_TIMEOUT, cluster=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(2)
    logs = ""
    if cluster is not None:
        daemon = Path(cluster.info["logs"]) / "dagster-daemon.log"
        logs = daemon.read_text()[-4000:] if daemon.is_file() else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")


def test_the_story_registry_to_gold_through_the_daemon(cluster, generate, monkeypatch):
    _story(cluster, generate, monkeypatch)


def _story(cluster, generate, monkeypatch) -> None:
    """Register through replica 1, see it on replica 2's Watch, land a file: the daemon gates it into
    Bronze on S3 and dbt builds Silver and Gold from it. Every client here and in the cluster uses the
    cluster's environment (its CA certificate when the replicas serve TLS)."""
    import boto3
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from meshgate.pipeline.resources import LakehouseResource
    from registry.client import RegistryClient
    from registry.contract import load_contract
    from registry.model import VERSION_REGISTERED

    env = cluster.info["environment"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    first, second = _replicas(cluster)
    subscriber = Subscriber(second)  # replica 2's stream
    try:
        with RegistryClient(first) as client:  # the write goes through replica 1
            registered = client.register(
                load_contract(EXAMPLES / "contracts/checkout/checkout_completed.yaml")
            )
        seen = subscriber.wait_for(lambda e: e.type == VERSION_REGISTERED and e.subject == CHECKOUT)
        assert (seen.version, seen.schema_id) == (registered.version, registered.schema_id)
    finally:
        subscriber.close()

    landing = Path(env["MESHGATE_LANDING_DIR"]) / TABLE
    landing.mkdir(parents=True, exist_ok=True)
    partial = generate.write("checkout", landing / ".batch-1.avro", ROWS, fmt="avro")
    partial.rename(landing / "batch-1.avro")  # a writer renames a finished file into place

    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        gate_runs = _wait(
            "the landing sensor's gate run succeeded",
            lambda: instance.get_runs(
                RunsFilter(tags={"meshgate/subject": CHECKOUT}, statuses=[DagsterRunStatus.SUCCESS])
            ),
            cluster=cluster,
        )
        (gate_run,) = gate_runs
        assert gate_run.tags["dagster/sensor_name"] == f"landing_files__{TABLE}"  # launched by the daemon
        assert gate_run.tags["dagster/partition"] == "batch-1.avro"

        lakehouse = LakehouseResource.from_env(env)
        catalog = lakehouse.catalog()
        bronze = catalog.load_table(("bronze", TABLE))
        assert bronze.metadata_location.startswith("s3://warehouse/")
        assert bronze.scan().to_arrow().num_rows == ROWS
        s3 = boto3.client(
            "s3",
            endpoint_url=env["MESHGATE_S3_ENDPOINT"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="warehouse").get("Contents", [])]
        assert any(TABLE in k and k.endswith(".parquet") for k in keys), keys

        _wait(
            "a dbt run (Silver and Gold) succeeded",
            lambda: instance.get_runs(
                RunsFilter(tags={"meshgate/runs": "dbt"}, statuses=[DagsterRunStatus.SUCCESS])
            ),
            cluster=cluster,
        )
    finally:
        instance.dispose()
    silver = catalog.load_table(("silver", TABLE)).scan().to_arrow()
    assert silver.num_rows == ROWS
    gold = catalog.load_table(("gold", "daily_revenue")).scan().to_arrow().to_pylist()
    assert sum(row["orders"] for row in gold) == ROWS
    revenue = float(sum(row["revenue"] for row in gold))
    assert revenue == pytest.approx(float(sum(silver.column("amount").to_pylist())))
    status = subprocess.run(["git", "status", "--porcelain", "dbt"], cwd=ROOT, capture_output=True, text=True)
    assert status.stdout == ""  # the contract-change sensor ran and left the checkout's dbt/ alone


def _schema(writer: int, fields: int) -> str:
    """Writer ``writer``'s version ``fields``: one more defaulted field each time (BACKWARD-compatible)."""
    return json.dumps(
        {
            "type": "record",
            "name": f"Burst{writer}",
            "fields": [{"name": f"f{i}", "type": "int", "default": 0} for i in range(1, fields + 1)],
        }
    )


def test_replica_1_killed_during_a_burst_loses_no_write_and_no_event(cluster):
    from meshgate.pipeline.sensors import schema_events
    from registry.client import RegistryClient
    from registry.errors import MeshgateError

    first, second = _replicas(cluster)
    both = f"{first},{second}"
    with RegistryClient(second) as client:
        start = max([0, *(e.sequence for e in schema_events(client, 0, 1.0))])
    subscriber = Subscriber(both, after_sequence=start)  # connected to replica 1 first
    outcomes: dict[int, list] = {w: [] for w in range(WRITERS)}
    landed = threading.Semaphore(0)

    def write(writer: int) -> None:
        with RegistryClient(both, timeout=10) as client:
            for fields in range(1, WRITES + 1):
                try:
                    answer = client.register(f"burst.w{writer}", _schema(writer, fields), format="AVRO")
                    outcomes[writer].append(("ok", fields, answer.version, answer.schema_id))
                    landed.release()
                except MeshgateError as exc:  # a clear error: the type and a message
                    outcomes[writer].append(("failed", fields, exc.__class__.__name__, exc.message))

    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for _ in range(2 * WRITERS):  # a few writes in: then replica 1 dies without a word
        assert landed.acquire(timeout=60)
    os.kill(cluster.info["pids"]["registry-1"], signal.SIGKILL)
    for thread in writers:
        thread.join(120)
        assert not thread.is_alive()

    ids = []
    with RegistryClient(second) as client:
        for writer, results in outcomes.items():
            subject = f"burst.w{writer}"
            versions = client.list_versions(subject)
            assert versions == list(range(1, len(versions) + 1))  # gap-free
            texts = [client.get_version(subject, v).schema for v in versions]
            landed_fields = [len(json.loads(t)["fields"]) for t in texts]
            assert len(set(landed_fields)) == len(landed_fields)  # no schema registered twice
            assert set(landed_fields) <= set(range(1, WRITES + 1))
            for result in results:
                if result[0] == "ok":
                    _, fields, version, schema_id = result
                    assert landed_fields[version - 1] == fields  # landed once, where the answer said
                    ids.append(schema_id)
                else:
                    _, fields, kind, message = result
                    assert message, f"{kind} without a message"
            ok = {r[1] for r in results if r[0] == "ok"}
            assert ok <= set(landed_fields)
            assert set(landed_fields) - ok <= {r[1] for r in results if r[0] == "failed"}
        assert len(ids) == len(set(ids))  # no duplicate ids
        head = max(e.sequence for e in schema_events(client, start, 1.0))
        replay = [e.sequence for e in schema_events(client, start, 1.0)]
    assert sum(len(r) for r in outcomes.values()) == WRITERS * WRITES
    try:
        _wait("the subscriber caught up on replica 2", lambda: subscriber.stream.last_sequence >= head, 60)
        delivered = [e.sequence for e in subscriber.events]
        assert not [s for s, n in Counter(delivered).items() if n > 1]  # 0 duplicated
        assert delivered == replay  # 0 missed, in order
        assert subscriber.stream.gaps and subscriber.stream.gaps[-1].address == second  # it did fail over
    finally:
        subscriber.close()


def test_sigterm_stops_every_process_of_the_cluster(cluster):
    tree = process_tree(cluster.process.pid)
    assert len(tree) >= 5  # s3, registry-2, daemon, webserver and Dagster's code servers (registry-1 died)
    cluster.process.send_signal(signal.SIGTERM)
    assert cluster.process.wait(90) == 0
    assert [pid for pid in tree if _alive(pid)] == []
    output = "".join(cluster.output)
    assert "registry-1 exited with -9" in output and "cluster stopped: every process ended" in output
    http = cluster.info["registry_http"][1].rsplit(":", 1)[1]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(http)), timeout=2):
        pass


def test_an_unreachable_postgres_is_a_clear_error(tmp_path):
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    result = CliRunner().invoke(main, ["dev", "cluster", "--dir", str(tmp_path), "--postgres-url", url])
    assert result.exit_code == 1
    assert "PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:1/nowhere unreachable" in result.output
    assert "Traceback" not in result.output


def test_a_postgres_url_of_another_database_kind_is_a_clear_error(tmp_path):
    url = "mysql://root@127.0.0.1/x"
    result = CliRunner().invoke(main, ["dev", "cluster", "--dir", str(tmp_path), "--postgres-url", url])
    assert result.exit_code == 1
    assert "--postgres-url 'mysql://root@127.0.0.1/x': expected postgresql://" in result.output


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, pki):
    """The cluster once more, its replicas serving TLS with a certificate the tests' CA signed."""
    tls = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--ca-cert", str(pki.ca))
    yield from _start_cluster(tmp_path_factory.mktemp("tls-cluster"), *tls)


def test_the_story_once_more_with_tls_between_the_replicas_and_their_clients(
    tls_cluster, pki, generate, monkeypatch
):
    assert all(url.startswith("https://") for url in tls_cluster.info["registry_http"])
    assert tls_cluster.info["environment"]["MESHGATE_CA_CERT"] == str(pki.ca)  # Dagster's trust too
    _story(tls_cluster, generate, monkeypatch)


def test_a_client_of_the_tls_cluster_without_its_ca_is_refused_with_a_hint(tls_cluster):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHGATE_")}
    command = [sys.executable, "-m", "meshgate.cli", "subjects", "--registry", tls_cluster.info["registry"]]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "pass --ca-cert FILE or set MESHGATE_CA_CERT" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--tls-cert", "server"), "--tls-cert and --tls-key go together"),
        (
            ("--ca-cert", "ca"),
            "--ca-cert is the CA of the replicas' certificate: pass --tls-cert and --tls-key too",
        ),
    ],
)
def test_tls_options_of_the_cluster_that_do_not_go_together_are_usage_errors(tmp_path, pki, options, message):
    files = {"server": pki.server_cert, "ca": pki.ca}
    args = ["dev", "cluster", "--dir", str(tmp_path), options[0], str(files[options[1]])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output
