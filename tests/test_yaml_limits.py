"""Every YAML file a person writes (contract, ODCS contract, meshgate.yaml, a contracts folder) is read
through ``registry.limits.load_yaml`` / ``check_yaml_depth``: nesting 10,000 levels deep is a clear
``nesting depth`` error naming the file, line and column, never a ``RecursionError``."""

from __future__ import annotations

import pytest

from ci_plugin.config import ConfigError, load_config
from lakehouse.dbt.sources import contracts_from_files
from registry.contract import load_contract
from registry.errors import LimitExceeded
from registry.limits import MAX_JSON_DEPTH, check_yaml_depth, load_yaml
from registry.odcs import load_contract_file, load_odcs

DEEP = {
    "block sequences": ("- " * 10_000 + "x\n", "1:129"),
    "flow sequences": ("[" * 10_000 + "]" * 10_000 + "\n", "1:65"),
    "block mappings": ("".join("  " * level + "k:\n" for level in range(10_000)), "65:129"),
    "flow mappings under a key": ("subject: a.B\nquality: " + "{a: " * 10_000 + "1" + "}" * 10_000, "2:262"),
}


@pytest.mark.parametrize(("text", "at"), DEEP.values(), ids=DEEP.keys())
def test_yaml_nested_past_the_limit_is_refused_naming_where(text, at):
    with pytest.raises(LimitExceeded) as caught:
        load_yaml(text, "f.yaml")

    assert caught.value.limit == "nesting depth"
    assert str(caught.value) == (
        f"f.yaml:{at}: YAML nested deeper than {MAX_JSON_DEPTH} levels (limit 'nesting depth', see docs/registry.md)"
    )


def test_yaml_at_the_limit_loads():
    text = "- " * MAX_JSON_DEPTH + "x\n"
    value = load_yaml(text, "f.yaml")
    for _ in range(MAX_JSON_DEPTH):
        (value,) = value
    assert value == "x"
    check_yaml_depth("{" * MAX_JSON_DEPTH + "}" * MAX_JSON_DEPTH, "f.yaml")


@pytest.mark.parametrize("text", [text for text, _ in DEEP.values()], ids=DEEP.keys())
def test_every_yaml_loader_refuses_deep_nesting_with_its_own_error(tmp_path, text):
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    (tmp_path / "meshgate.yaml").write_text(text)

    for load in (load_contract, load_odcs, load_contract_file, lambda p: contracts_from_files(p.parent)):
        with pytest.raises(
            LimitExceeded, match=rf"contract.yaml:\d+:\d+: YAML nested deeper than {MAX_JSON_DEPTH}"
        ):
            load(path)
    with pytest.raises(
        ConfigError, match=rf"meshgate.yaml:\d+:\d+: YAML nested deeper than {MAX_JSON_DEPTH} levels"
    ):
        load_config(tmp_path / "meshgate.yaml")
