# Shared shell helpers for the project's scripts. Source, don't run.
log() { printf '[cryopipe] %s\n' "$*" >&2; }
die() { printf '[cryopipe] error: %s\n' "$*" >&2; exit 1; }

CRYOPIPE_CACHE=${CRYOPIPE_CACHE:-/var/cache/cryopipe}
# provision-criu.sh writes the path of the working criu here.
CRIU_POINTER="$CRYOPIPE_CACHE/criu-current"

criu_bin_path() { cat "$CRIU_POINTER" 2>/dev/null; }
criu_bin() { "$(criu_bin_path)" "$@"; }
