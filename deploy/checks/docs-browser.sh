#!/usr/bin/env bash
# Loads the docs pages of a running server in headless Chromium and fails when a page logs
# anything to its console (a Content-Security-Policy violation, a failed load, a script error)
# or does not render: ReDoc must show the API title and its sidebar footer, Swagger UI its
# operation groups and the Authorize button.
#
# Usage: deploy/checks/docs-browser.sh [BASE_URL]   (default http://127.0.0.1:8000)
# Needs Debian's chromium-headless-shell (apt-get install -y chromium-headless-shell), or
# $CHROMIUM naming another Chromium binary.
set -euo pipefail

base="${1:-http://127.0.0.1:8000}"
chromium="${CHROMIUM:-$(command -v chromium-headless-shell || command -v chromium || true)}"
if [[ -z "$chromium" ]]; then
  echo "docs-browser: no Chromium (apt-get install -y chromium-headless-shell)" >&2
  exit 2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=0
check_page() {
  local page="$1"
  shift
  # Virtual time lets the page's scripts run to completion before the DOM is dumped.
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --enable-logging=stderr --v=0 --virtual-time-budget=15000 \
    --dump-dom "$base$page" >"$work/dom.html" 2>"$work/console.log"
  if grep -q "CONSOLE" "$work/console.log"; then
    echo "docs-browser: $page logged to its console:" >&2
    grep "CONSOLE" "$work/console.log" >&2
    failed=1
  fi
  for marker in "$@"; do
    if ! grep -qF "$marker" "$work/dom.html"; then
      echo "docs-browser: $page did not render \"$marker\"" >&2
      failed=1
    fi
  done
  echo "docs-browser: $page checked"
}

check_page /redoc "API docs by Redocly" "Medico24" "/api/v1/appointments"
check_page /docs 'class="opblock-tag' "Authorize"
exit "$failed"
