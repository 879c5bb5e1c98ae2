#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/flinkops/flink.
# Uses its own virtual environment ($FLINKOPS_CACHE/venv-sanity) so the pinned sanity requirements do not
# mix with the test environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${FLINKOPS_CACHE:-/var/cache/flinkops}"
venv="$cache/venv-sanity"
if [ ! -x "$venv/bin/ansible-test" ]; then
  python3.11 -m venv "$venv"
  "$venv/bin/pip" install -q "ansible-core>=2.19,<2.20" "docker>=7,<8" pyyaml
fi
# ansible-test bootstraps pip in each venv with a script from a host we cannot reach; give it ours.
pip_version="$("$venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11", path="/usr/bin/python3"))["pip"])
PY
)"
wheels="$cache/pip-wheels"
mkdir -p "$wheels" "$HOME/.ansible/test/cache"
FLINKOPS_PIP_WHEEL="$wheels/pip-$pip_version-py3-none-any.whl"
[ -f "$FLINKOPS_PIP_WHEEL" ] || "$venv/bin/pip" download -q --no-deps -d "$wheels" "pip==$pip_version"
export FLINKOPS_PIP_WHEEL
sed "s|@PIP_WHEEL@|$FLINKOPS_PIP_WHEEL|" "$here/get_pip.py" > "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/flinkops/flink"
mkdir -p "$dest"
cd "$repo"
# What git tracks (as in a clean checkout), less what galaxy.yml keeps out of the collection.
git ls-files | grep -vE '^(testbed|\.ci|tools|bench)/' | while read -r f; do
  [ -f "$f" ] || continue
  mkdir -p "$dest/$(dirname "$f")"
  cp -p "$f" "$dest/$f"
done
cd "$dest"
git init -q . && git add -A >/dev/null
"$venv/bin/ansible-test" sanity --local --python 3.11 --requirements --color no "$@"
