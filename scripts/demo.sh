#!/usr/bin/env bash
# The main job: a real encode checkpointed mid-way, killed, restored, finished.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"
exec pnpm -s --filter @cryopipe/examples demo "$@"
