#!/usr/bin/env bash
# Debian's Chromium, for the documentation site's browser test (tests/docs/test_site.py): installed when missing,
# from Debian's packages (no browser download). Prints the browser's path.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if ! command -v chromium >/dev/null; then
  start=$(date +%s)
  log "installing Debian's chromium"
  apt_install chromium fonts-dejavu-core
  log "chromium installed in $(( $(date +%s) - start ))s"
fi
command -v chromium
