"""The GitHub Action (action.yml), the example workflow, the GitLab template and the pre-commit hook.

action.yml is parsed and its ``run`` steps are executed locally, in order, exactly as the runner would
(``bash --noprofile --norc -eo pipefail``, inputs through the step's ``env``, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files). ``uses:`` steps (actions/setup-python) need GitHub's runner and are
skipped: the virtualenv's Python plays their part.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.ci_plugin.conftest import AVRO_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def load_action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def evaluate(value: str, inputs: dict[str, str], context: dict[str, str]) -> str:
    """The two expression kinds action.yml uses: ``inputs.NAME`` and ``github.action_path``."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("inputs."):
            return inputs[name.removeprefix("inputs.")]
        return context[name]

    return EXPRESSION.sub(replace, value)


def run_action(
    repo_root: Path, tmp_path: Path, given: dict[str, str]
) -> tuple[list[subprocess.CompletedProcess], dict]:
    """Run every ``run`` step of action.yml; returns the finished steps and the step outputs."""
    action = load_action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()} | given
    output_file, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    output_file.write_text("")
    base_env = {
        key: value for key, value in os.environ.items() if not key.startswith(("GITHUB_", "CI_", "MESHGATE_"))
    }
    base_env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    context = {"github.action_path": str(ROOT)}
    finished = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        assert step["shell"] == "bash"
        env = base_env | {
            key: evaluate(str(value), inputs, context) for key, value in step.get("env", {}).items()
        }
        workdir = repo_root / evaluate(step.get("working-directory", "."), inputs, context)
        script = tmp_path / f"step-{len(finished)}.sh"
        script.write_text(evaluate(step["run"], inputs, context))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        finished.append(done)
        if done.returncode != 0:
            break
    outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
    return finished, outputs


def test_action_yml_is_a_composite_action_whose_expressions_name_real_inputs():
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert set(action["outputs"]) == {"exit-code"}
    used = set()
    for step in action["runs"]["steps"]:
        text = json.dumps(step)
        used |= {m.removeprefix("inputs.") for m in EXPRESSION.findall(text) if m.startswith("inputs.")}
        if "run" in step:
            assert "${{" not in step["run"], "inputs reach scripts through env, never pasted into the script"
    assert used == set(action["inputs"])


def test_action_steps_block_a_breaking_change_with_annotations_sarif_and_summary(contract_repo, tmp_path):
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: s["fields"][4].update(type="string"))
    contract_repo.commit("amount as text")

    steps, outputs = run_action(
        contract_repo.root, tmp_path, {"against": "main", "sarif-file": str(tmp_path / "out.sarif")}
    )

    install, check = steps
    assert install.returncode == 0 and "contract-check already installed" in install.stdout
    assert check.returncode == 1, check.stderr
    assert outputs == {"exit-code": "1"}
    assert re.search(rf"^::error file={re.escape(AVRO_SCHEMA)},line=\d+,title=", check.stdout, re.MULTILINE)
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "TYPE_CHANGED"
    assert "## ❌ contract-check" in (tmp_path / "step_summary.md").read_text()


def test_action_steps_pass_a_compatible_change(contract_repo, tmp_path):
    contract_repo.edit_json(
        AVRO_SCHEMA,
        lambda s: s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None}),
    )
    contract_repo.commit("optional coupon")

    steps, outputs = run_action(contract_repo.root, tmp_path, {"against": "main"})

    assert [step.returncode for step in steps] == [0, 0]
    assert outputs == {"exit-code": "0"}


def test_action_reports_an_unreachable_registry_as_exit_3(contract_repo, tmp_path, unreachable_registry):
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: s["fields"].pop())
    contract_repo.commit("drop items")

    steps, outputs = run_action(contract_repo.root, tmp_path, {"registry": unreachable_registry})

    assert steps[-1].returncode == 3
    assert outputs == {"exit-code": "3"}


def test_action_publish_command_registers_the_changed_contracts(contract_repo, tmp_path, registry):
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: s["fields"].pop())
    contract_repo.commit("drop items")

    steps, outputs = run_action(contract_repo.root, tmp_path, {"command": "publish", "registry": registry})

    assert steps[-1].returncode == 0, steps[-1].stderr
    assert "registered: checkout.CheckoutCompleted version 1" in steps[-1].stdout
    assert outputs == {"exit-code": "0"}


def test_example_workflow_uses_the_action_with_its_inputs():
    workflow = yaml.safe_load((ROOT / "examples/ci/github-workflow.yml").read_text())
    inputs = set(load_action()["inputs"])
    action_steps = [s for job in workflow["jobs"].values() for s in job["steps"] if s.get("uses") == "./"]
    assert len(action_steps) == 2
    for step in action_steps:
        assert set(step.get("with", {})) <= inputs
    checkout = workflow["jobs"]["contract-check"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0


def test_gitlab_template_runs_check_on_merge_requests_and_publish_on_the_default_branch():
    template = yaml.safe_load((ROOT / "examples/ci/gitlab-ci.yml").read_text())
    check, publish = template["contract-check"], template["contract-publish"]
    assert "contract-check check" in check["script"][0]
    assert check["artifacts"]["reports"]["junit"] == "contract-check.xml"
    assert "--report-file contract-check.xml" in check["script"][0]
    assert publish["script"] == ["contract-check publish"]
    assert template[".contract-check-base"]["variables"]["GIT_DEPTH"] == "0"


def test_pre_commit_hook_entry_is_a_working_command(contract_repo, unreachable_registry):
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "contract-check" and hook["pass_filenames"] is False
    assert re.search(hook["files"], AVRO_SCHEMA) and re.search(hook["files"], "x/y.proto")
    contract_repo.edit_json(
        AVRO_SCHEMA, lambda s: s["fields"][4].update(type="string")
    )  # staged, not committed
    contract_repo.git("add", AVRO_SCHEMA)

    entry = hook["entry"].split()
    assert entry[0] == "contract-check"
    result = contract_repo.contract_check(*entry[1:], "--registry", unreachable_registry)

    assert result.exit_code == 1
    assert "TYPE_CHANGED" in result.stdout
