#!/usr/bin/env bash
# Checks the server's OpenAPI document with the tools clients are generated with:
#   1. Redocly lint (openapi-clients/redocly.yaml: the recommended rules, every example checked
#      against its schema): any error fails;
#   2. openapi-typescript generates the client types, and `tsc --strict` compiles them with
#      openapi-clients/usage.ts, whose lines state what a typed client relies on (closed sets as
#      literal unions, answer members required, optional bodies and headers, the error bodies);
#      a `@ts-expect-error` line there states that a mistake does not compile.
#
# Usage: deploy/checks/openapi-clients.sh [DOCUMENT.json]
#   Without an argument the document is what the server binary prints (`medico24 openapi`):
#   $MEDICO24_BIN, else <target>/debug/medico24, built with cargo when missing.
#
# The tools are the exact versions of openapi-clients/package-lock.json, installed with `npm ci`
# into $OPENAPI_TOOLS_DIR (default <target>/openapi-clients) when missing or when the lockfile
# changed; a later run needs no network. Needs node and npm (Node.js 20 or later).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
tools="${OPENAPI_TOOLS_DIR:-$target/openapi-clients}"
work="$tools/work"

step() { printf '\n==> %s\n' "$*"; }

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "openapi-clients: $tool is missing (Debian: apt-get install -y nodejs npm)" >&2
    exit 2
  fi
done

# 1. The tools, pinned by the lockfile.
mkdir -p "$tools" "$work"
stamp="$tools/.installed"
wanted="$(cat "$here/openapi-clients/package.json" "$here/openapi-clients/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$tools/node_modules/.bin/redocly" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  step "installing the pinned tools into $tools"
  cp "$here/openapi-clients/package.json" "$here/openapi-clients/package-lock.json" "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$wanted" >"$stamp"
else
  echo "openapi-clients: tools in $tools are up to date"
fi
bin="$tools/node_modules/.bin"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

# 2. The document.
document="$work/openapi.json"
if [[ $# -ge 1 ]]; then
  cp "$1" "$document"
else
  server="${MEDICO24_BIN:-$target/debug/medico24}"
  if [[ ! -x "$server" ]]; then
    step "building medico24"
    (cd "$root" && cargo build --package medico24-server --bin medico24)
  fi
  step "$server openapi"
  # Fixed settings, none read from the caller's environment or a .env file: printing the
  # document connects to nothing, and the document then does not depend on who runs this.
  (cd "$work" && env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    ENVIRONMENT=development LOG_LEVEL=error \
    DATABASE_URL=postgres://openapi@127.0.0.1:5432/openapi \
    REDIS_URL=redis://127.0.0.1:6379 \
    JWT_SECRET_KEY=openapi-check-access-key-0123456789abcdef \
    JWT_REFRESH_SECRET_KEY=openapi-check-refresh-key-0123456789abcdef \
    "$server" openapi >"$document")
fi

# 3. Lint.
step "redocly lint ($("$bin/redocly" --version 2>/dev/null | tail -n1))"
"$bin/redocly" lint "$document" --config "$here/openapi-clients/redocly.yaml" --format=stylish

# 4. Generate and compile a typed client.
step "openapi-typescript ($("$bin/openapi-typescript" --version 2>/dev/null | tail -n1)) + tsc --strict ($("$bin/tsc" --version))"
"$bin/openapi-typescript" "$document" --output "$work/schema.d.ts"
cp "$here/openapi-clients/usage.ts" "$work/usage.ts"
cat >"$work/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "typeRoots": [],
    "types": []
  },
  "files": ["usage.ts", "schema.d.ts"]
}
JSON
# openapi-fetch is resolved from the tools' node_modules.
ln -sfn "$tools/node_modules" "$work/node_modules"
"$bin/tsc" -p "$work/tsconfig.json"

echo
echo "openapi-clients: passed (Redocly lint without errors; the generated TypeScript client compiles with --strict)"
