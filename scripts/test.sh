#!/usr/bin/env bash
# Runs every check and every test, then prints one closing line computed from
# vitest's JSON report: "N passed, N failed, N skipped". Exits non-zero on any
# failure, and when no test ran at all.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$repo"
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"

status=0
step() {
  local name=$1; shift
  log "$name"
  if ! "$@"; then log "FAILED: $name"; status=1; fi
}
step "lint (biome)" pnpm -s lint
step "typecheck" pnpm -s typecheck
step "packaging (publint)" pnpm -s publint
step "API docs (typedoc: no undocumented export)" pnpm -s docs

results="$repo/.test-results/vitest.json"
mkdir -p "$(dirname "$results")"
rm -f "$results"
log "tests (vitest)"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
vitest_rc=$?
node "$here/summarize-tests.mjs" "$results" "$vitest_rc" "$status"
