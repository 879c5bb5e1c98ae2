#!/usr/bin/env bash
# The collection's HTML documentation, built as docs.ansible.com builds collection docs: antsibull-docs renders
# the module pages (DOCUMENTATION/EXAMPLES/RETURN), the role pages (meta/argument_specs.yml) and the guide pages
# (docs/docsite/), Sphinx with the Ansible theme makes the HTML.
#   bash scripts/docs_site.sh [OUTPUT_DIR]      default $FLINKOPS_CACHE/docs-site; prints the index page's path
# Every Sphinx warning fails the build, except references to what only docs.ansible.com has (other collections'
# pages, ansible-core's guide labels): offline, there is no inventory to resolve them (links to them stay text).
set -euo pipefail
# shellcheck source=bootstrap.sh
source "$(cd "$(dirname "$0")" && pwd)/bootstrap.sh"

out="${1:-$FLINKOPS_CACHE/docs-site}"
ensure_venv requirements-test.txt  # ansible-galaxy, to build and install the collection as a user would
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
FLINKOPS_COLLECTIONS="$work/collections" install_collection >/dev/null 2>&1

docs_venv="$FLINKOPS_CACHE/venv-docs"
FLINKOPS_VENV="$docs_venv" ensure_venv requirements-docs.txt
export PATH="$docs_venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work/collections"

start=$(date +%s)
# antsibull-docs' own checks of the sources first: DOCUMENTATION/RETURN/argument_specs markup, extra docs, links.yml.
(cd "$REPO_ROOT" && antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck .)
rm -rf "$out"
mkdir -p "$out"
src="$out/src"
mkdir -m 755 "$src"
antsibull-docs sphinx-init --use-current --squash-hierarchy --dest-dir "$src" flinkops.flink >/dev/null
echo "intersphinx_mapping = {}  # offline: no docs.ansible.com inventory" >> "$src/conf.py"
chmod 755 "$src/rst"
antsibull-docs --config-file "$src/antsibull-docs.cfg" collection --cleanup everything --use-current \
  --squash-hierarchy --dest-dir "$src/rst" flinkops.flink >/dev/null
sphinx-build -q -b html -c "$src" -w "$out/warnings.txt" "$src/rst" "$out/html" 2>/dev/null || true
"$docs_venv/bin/python" - "$out/warnings.txt" <<'PY'
import re
import sys

# Labels that live on docs.ansible.com: other collections' pages and ansible-core's own guide.
EXTERNAL = re.compile(r"undefined label: '(ansible_collections\.(?!flinkops\.flink\.)[a-z0-9_]+\.[a-z0-9_]+\.|"
                      r"common_return_values'|action_plugins'|ansible_configuration_settings')")
with open(sys.argv[1]) as handle:
    problems = [line.rstrip() for line in handle if "WARNING" in line or "ERROR" in line]
left = [line for line in problems if not EXTERNAL.search(line)]
for line in left:
    print(line, file=sys.stderr)
sys.exit(1 if left else 0)
PY
[ -f "$out/html/index.html" ] || die "Sphinx wrote no index page"
log "documentation site built in $(( $(date +%s) - start ))s"
echo "$out/html/index.html"
