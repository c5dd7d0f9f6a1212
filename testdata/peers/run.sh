#!/usr/bin/env bash
# Starts `dvsync serve` (reference Dataverse and reference Odoo) on loopback
# and runs every *.check.mjs here against it with real third-party clients.
# Each check prints one line per operation and exits non-zero on a mismatch.
# Dataverse: dataverse-core (dynamics-web-api, incl. FetchXML and $apply),
# dataverse-batch, dataverse-odata (@odata/client, a generic OData v4 client).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$top" && go build -o "$work/dvsync" ./cmd/dvsync)

export DVSYNC_TOKEN="peer-check-token"
export DVSYNC_BIN="$work/dvsync" # checks that need their own server (dataverse-cs: --clock)
export ODOO_API_KEY="peer-check-key"
"$work/dvsync" serve --memory --token-file <(printf %s "$DVSYNC_TOKEN") \
  --seed "$top/testdata/dataverse/seed" --odoo-seed "$top/testdata/odoo/seed" \
  --listen 127.0.0.1:0 --odoo-listen 127.0.0.1:0 >"$work/urls" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^odoo ' "$work/urls" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
export DATAVERSE_URL="$(awk '$1=="dataverse"{print $2}' "$work/urls")"
export ODOO_URL="$(awk '$1=="odoo"{print $2}' "$work/urls")"
[ -n "$DATAVERSE_URL" ] && [ -n "$ODOO_URL" ] || { echo "serve did not start"; cat "$work/serve.log"; exit 1; }

passed=0; failed=0
for check in "$here"/*.check.mjs; do
  [ -e "$check" ] || continue
  echo "== $(basename "$check")"
  if node "$check"; then passed=$((passed+1)); else failed=$((failed+1)); fi
done
for check in "$here"/*.check.py; do
  [ -e "$check" ] || continue
  echo "== $(basename "$check")"
  if python3 "$check"; then passed=$((passed+1)); else failed=$((failed+1)); fi
done
echo "peer checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
