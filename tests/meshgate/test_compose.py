"""docker-compose.yml, .env.example, deploy/dagster.yaml and the Dockerfile checked against the code.

Docker does not run on CI machines, so the deployment is checked, not run: every service's command
is parsed by the real click command it runs (meshgate serve, dagster-webserver, dagster-daemon), its
ports match what the command listens on, and every environment variable is one the code reads.
"""

import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml

from lakehouse.masking import KEY_ENV
from meshgate.pipeline.resources import PIPELINE_ENV, LakehouseResource

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"(?<!\$)\$\{(\w+)\}")  # compose interpolation; $${X} is a literal for the shell
SERVICES = {
    "postgres",
    "minio",
    "minio-init",
    "registry-1",
    "registry-2",
    "dagster-webserver",
    "dagster-daemon",
}
PIPELINE = ("dagster-webserver", "dagster-daemon")
REGISTRIES = ("registry-1", "registry-2")


def env_example() -> dict[str, str]:
    pairs = {}
    for number, line in enumerate((ROOT / ".env.example").read_text().splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and name.isupper(), f".env.example:{number}: not NAME=value: {line!r}"
            pairs[name] = value
    return pairs


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file with ${VAR} replaced by .env.example's values, as docker compose would."""
    values = env_example()
    text = VARIABLE.sub(lambda m: values[m.group(1)], (ROOT / "docker-compose.yml").read_text())
    return yaml.safe_load(text)


def service(compose, name) -> dict:
    return compose["services"][name]


def container_ports(spec: dict) -> set[int]:
    return {int(str(mapping).split(":")[-1]) for mapping in spec.get("ports", [])}


def run_command(entry_point: str, args: list[str]) -> click.Context:
    """Parse ``args`` with the click command behind a console script, as the container would run it."""
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    if entry_point in ours:  # this checkout's scripts, not a possibly stale install's metadata
        value = ours[entry_point]
    else:
        scripts = importlib.metadata.entry_points(group="console_scripts")
        (value,) = [e.value for e in scripts if e.name == entry_point]
    module_name, _, attribute = value.partition(":")
    module = importlib.import_module(module_name)
    command = getattr(module, attribute)
    if not isinstance(command, click.Command):  # dagster's scripts wrap the click group `cli`
        command = module.cli
    args = list(args)
    while isinstance(command, click.Group):  # the sub-command named first, as click dispatches
        name = args.pop(0)
        command = command.get_command(click.Context(command), name)
        assert command is not None, f"{entry_point}: no sub-command {name!r}"
        entry_point = name
    return command.make_context(entry_point, args)


def test_every_service_is_there_with_a_health_check_or_a_one_shot_job(compose):
    assert set(compose["services"]) == SERVICES
    for name, spec in compose["services"].items():
        one_shot = name == "minio-init"
        assert one_shot or "healthcheck" in spec, f"docker-compose.yml: service {name} has no healthcheck"


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = {k: v for k, v in env_example().items() if re.search("PASSWORD|SECRET|KEY", k)}
    for name, value in secrets.items():
        assert value not in text, f"docker-compose.yml holds the value of {name}"
    assert re.search(r"postgresql\+psycopg://\$\{POSTGRES_USER\}:\$\{POSTGRES_PASSWORD\}@", text)


def test_every_variable_the_file_uses_is_in_env_example_and_none_is_unused():
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert used == set(env_example())


@pytest.mark.parametrize("name", REGISTRIES)
def test_registry_replicas_run_meshgate_serve_on_postgresql_with_matching_ports(compose, name):
    spec = service(compose, name)
    program, *args = spec["command"]
    assert program == "meshgate"
    options = run_command("meshgate", args).params
    assert options["host"] == "0.0.0.0"
    assert urlsplit(options["database_url"]).scheme == "postgresql+psycopg"
    assert urlsplit(options["database_url"]).hostname == "postgres"
    assert container_ports(spec) == {options["grpc_port"], options["http_port"]}
    assert f":{options['http_port']}/healthz" in " ".join(spec["healthcheck"]["test"])


@pytest.mark.parametrize("name", REGISTRIES)
def test_registry_environment_is_what_its_commands_read(compose, name):
    """Each variable is an option's envvar of `meshgate serve` or `meshgate token create` (bootstrap)."""
    from registry.cli import serve, token

    read = {
        param.envvar
        for command in (serve, token.commands["create"])
        for param in command.params
        if isinstance(param.envvar, str)
    }
    assert set(service(compose, name).get("environment", {})) <= read


def test_both_replicas_share_one_store_and_the_second_waits_for_the_first(compose):
    commands = [service(compose, name)["command"] for name in REGISTRIES]
    assert commands[0] == commands[1]
    assert service(compose, "registry-2")["depends_on"]["registry-1"]["condition"] == "service_healthy"
    host_ports = [{str(p).split(":")[0] for p in service(compose, n)["ports"]} for n in REGISTRIES]
    assert not host_ports[0] & host_ports[1]


def test_dagster_keeps_its_alembic_version_in_a_database_of_its_own(compose):
    """Dagster and the registry both migrate with Alembic: one database would hold one alembic_version
    for two schemas' histories. The postgres image's first start creates Dagster's database."""
    registry_args = service(compose, "registry-1")["command"]
    registry_db = urlsplit(registry_args[registry_args.index("--database-url") + 1]).path.lstrip("/")
    init = ROOT / "deploy" / "postgres-init.sql"
    mounts = service(compose, "postgres")["volumes"]
    assert f"./{init.relative_to(ROOT)}:/docker-entrypoint-initdb.d/10-dagster-database.sql:ro" in mounts
    for name in PIPELINE:
        dagster_db = service(compose, name)["environment"]["DAGSTER_PG_DB"]
        assert dagster_db != registry_db
        assert f"CREATE DATABASE {dagster_db};" in init.read_text()


def test_dagster_webserver_and_daemon_load_the_pipeline_code_location(compose):
    web = service(compose, "dagster-webserver")
    program, *args = web["command"]
    options = run_command(program, args).params
    assert container_ports(web) == {options["port"]}
    assert f":{options['port']}/server_info" in " ".join(web["healthcheck"]["test"])
    daemon = service(compose, "dagster-daemon")
    program, *args = daemon["command"]
    daemon_options = run_command(program, args).params
    for module in (options["module_name"], daemon_options["module_name"]):
        assert module == ("meshgate.pipeline.definitions",)
        assert hasattr(importlib.import_module(module[0]), "defs")
    assert daemon["healthcheck"]["test"][1:] == ["dagster-daemon", "liveness-check"]


@pytest.mark.parametrize("name", PIPELINE)
def test_pipeline_environment_is_what_the_code_reads(compose, name):
    environment = service(compose, name)["environment"]
    meshgate_vars = {v for v in environment if v.startswith("MESHGATE_") or v.startswith("AWS_")}
    assert meshgate_vars <= set(PIPELINE_ENV) | {KEY_ENV}, "a variable no code reads"
    resource = LakehouseResource.from_env(environment)
    assert urlsplit(resource.catalog_url).hostname == "postgres"
    assert resource.warehouse.startswith("s3://")
    assert resource.storage_options()["s3.endpoint"] == "http://minio:9000"
    registry_host, registry_port = resource.registry.split(":")
    registry = service(compose, registry_host)
    assert int(registry_port) in container_ports(registry)
    assert Path(resource.contracts_dir).relative_to("/opt/meshgate").as_posix() == "examples/contracts"
    assert environment[KEY_ENV]  # the gate and Silver hash PII with it


def test_the_dagster_instance_config_is_valid_and_fed_by_the_services(compose, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    text = (ROOT / "deploy" / "dagster.yaml").read_text()
    needed = set(re.findall(r"\{env: (\w+)\}", text))
    for name in PIPELINE:
        environment = service(compose, name)["environment"]
        assert needed <= set(environment), f"{name} lacks {needed - set(environment)}"
        assert environment["DAGSTER_HOME"] == "/opt/dagster/home"
        for variable in needed:
            monkeypatch.setenv(variable, str(environment[variable]))
    config, _ = dagster_instance_config(str(ROOT / "deploy"))  # raises on a schema error
    assert "postgres" in config["storage"]


def test_minio_listens_where_the_pipeline_looks(compose):
    minio = service(compose, "minio")
    command = minio["command"]
    api_port = int(command[command.index("--address") + 1].lstrip(":"))
    assert api_port in container_ports(minio)
    assert (
        urlsplit(service(compose, "dagster-daemon")["environment"]["MESHGATE_S3_ENDPOINT"]).port == api_port
    )


def test_dockerfile_is_multi_stage_non_root_and_puts_dagster_yaml_in_dagster_home():
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in text
    assert "DAGSTER_HOME=/opt/dagster/home" in text
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
    assert {50051, 8081, 3000} <= exposed


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", ".meshgate"} <= ignored
