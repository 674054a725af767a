#!/usr/bin/env bash
# The ready-made breaking change of the README's tour, made in the git repository `meshgate demo` keeps
# (default .meshgate/demo/repo): branch drop-currency, off main, drops the checkout contract's `currency`
# field. Avro readers would cope (BACKWARD), but the dbt model silver_checkout_completed reads the column
# and the registered consumer finance-dashboard reads the field, so `contract-check` blocks it:
#   cd .meshgate/demo/repo && contract-check check --against main      # offline: names the dbt model
#   cd .meshgate/demo/repo && contract-check check                     # the registry: names the consumer
# Run it again at any time: the branch is made afresh from main.
set -euo pipefail

repo="${1:-.meshgate/demo/repo}"
schema=contracts/checkout/checkout_completed.avsc
if [ ! -d "$repo/.git" ]; then
  echo "error: $repo is not the demo's git repository: run \`make demo\` (or \`meshgate demo\`) first" >&2
  exit 2
fi
git -C "$repo" checkout --quiet -B drop-currency main
python3 - "$repo/$schema" <<'PYTHON'
import json, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as file:
    schema = json.load(file)
schema["fields"] = [field for field in schema["fields"] if field["name"] != "currency"]
with open(path, "w", encoding="utf-8") as file:
    json.dump(schema, file, indent=2)
    file.write("\n")
PYTHON
git -C "$repo" -c user.name="meshgate demo" -c user.email=demo@meshgate.invalid \
  commit --quiet -am "checkout: drop currency"
echo "$repo: on branch drop-currency (checkout drops currency); now run contract-check there"
