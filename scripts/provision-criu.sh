#!/usr/bin/env bash
# Provide a working CRIU 4.x: Debian 12's own criu (3.17) fails on these
# kernels (vDSO), so build the newest upstream tarball from Debian's archive
# (sid, else trixie) and cache the binary outside the clone.
# A cached binary that passes `criu check` is reused; nothing is pinned.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

apt_state="$CRYOPIPE_CACHE/apt"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# apt options that keep the deb-src entries out of the system's apt state.
private_apt=(-o "Dir::Etc::SourceList=$apt_state/sources.list"
  -o "Dir::Etc::SourceParts=$apt_state/sources.list.d"
  -o "Dir::State::Lists=$apt_state/lists"
  -o "Dir::Cache=$apt_state/cache"
  -o "APT::Sandbox::User=root" -o "DPkg::Lock::Timeout=600" -q)

# Which environment does this criu need? 4.1 hangs on VMs without hardware
# breakpoints unless CRIU_FAULT=130 disables them; 4.2+ probes by itself.
criu_env_for() {
  local bin=$1 ver
  ver=$("$bin" --version 2>/dev/null | awk '/^Version:/ {print $2}')
  case "$ver" in
    4.0*|4.1|4.1.*) echo "CRIU_FAULT=130" ;;
    *) echo "" ;;
  esac
}

criu_works() {
  local bin=$1
  [ -x "$bin" ] || return 1
  "$bin" check >/dev/null 2>&1
}

smoke_test() {
  # bash reports "Killed" when the dump kills its background child: keep that
  # noise off stderr, and print our own messages through fd 3.
  { smoke_test_quiet "$@" 3>&2 2>/dev/null; } 3>&2
}

smoke_test_quiet() {
  local bin=$1 env dir pid rc=0
  env=$(criu_env_for "$bin")
  dir=$(mktemp -d "${TMPDIR:-/tmp}/cryopipe-smoke.XXXXXX")
  # Start the sleeper with nothing inherited beyond 0-2: whatever ran us may
  # hold sockets, which CRIU would rightly refuse to dump.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec setsid sleep 600
  ) </dev/null >/dev/null 2>&1 &
  pid=$!
  sleep 0.2
  if ! env $env timeout 60 "$bin" dump -t "$pid" -D "$dir" -o dump.log >/dev/null 2>&1; then
    kill "$pid" 2>/dev/null || true
    tail -n 15 "$dir/dump.log" >&3 || true
    rm -rf "$dir"
    die "criu smoke test: dump of a setsid sleep failed (log above)" 2>&3
  fi
  wait "$pid" 2>/dev/null || true   # reap it so its PID is free for the restore
  if env $env timeout 60 "$bin" restore -d -D "$dir" -o restore.log >/dev/null 2>&1 \
     && kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  else
    rc=1
    tail -n 15 "$dir/restore.log" >&3 || true
  fi
  rm -rf "$dir"
  [ "$rc" = 0 ] || die "criu smoke test: restore failed (log above)" 2>&3
  log "criu smoke test: dump + restore of pid $pid OK" 2>&3
}

link_on_path() {
  local bin=$1
  printf '%s\n' "$bin" > "$CRIU_POINTER.tmp" && mv "$CRIU_POINTER.tmp" "$CRIU_POINTER"
  ln -sfn "$bin" /usr/local/sbin/criu
}

fetch_source() {
  local suite
  mkdir -p "$apt_state/sources.list.d" "$apt_state/lists/partial" "$apt_state/cache/archives/partial"
  : > "$apt_state/sources.list"
  {
    echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian sid main"
    echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian trixie main"
  } > "$apt_state/sources.list.d/cryopipe-src.list"
  apt-get "${private_apt[@]}" update >/dev/null 2>&1 || apt-get "${private_apt[@]}" update >&2
  for suite in sid trixie; do
    if apt-get "${private_apt[@]}" source --tar-only --download-only "criu/$suite" >/dev/null 2>&1; then
      log "criu: fetched source from $suite"
      return 0
    fi
    log "criu: no source from $suite, trying the next suite"
  done
  die "could not fetch CRIU's source from Debian's archive (sid or trixie); check network access to deb.debian.org"
}

main() {
  mkdir -p "$CRYOPIPE_CACHE"
  chmod 0755 "$CRYOPIPE_CACHE"
  local cached
  cached=$(criu_bin_path || true)
  if [ -n "$cached" ] && criu_works "$cached"; then
    log "criu: cached $("$cached" --version | awk '/^Version:/ {print $2}') passes 'criu check' ($cached)"
    link_on_path "$cached"
    smoke_test "$cached"
    return
  fi

  local tarball ver src
  work=$(mktemp -d "$CRYOPIPE_CACHE/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && fetch_source)
  tarball=$(find "$work" -maxdepth 1 -name 'criu_*.orig.tar.*' | head -1)
  [ -n "$tarball" ] || die "criu: no upstream tarball among $(ls "$work")"
  ver=$(basename "$tarball" | sed -E 's/^criu_([^.]+\.[^.]+(\.[0-9]+)?)\.orig.*/\1/')
  case "$ver" in 4.*|[5-9].*) ;; *) die "criu: archive offered version $ver; cryopipe needs 4.x" ;; esac
  log "criu: building $ver (takes about two minutes)"
  tar -xf "$tarball" -C "$work"
  src=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'criu*' | head -1)
  if ! make -C "$src" -j"$(nproc)" criu >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    die "criu: build failed (last lines above)"
  fi
  local dest="$CRYOPIPE_CACHE/criu-$ver"
  mkdir -p "$dest/bin"
  install -m 0755 "$src/criu/criu" "$dest/bin/criu"
  criu_works "$dest/bin/criu" || { "$dest/bin/criu" check >&2 || true; die "criu $ver built but 'criu check' fails"; }
  link_on_path "$dest/bin/criu"
  smoke_test "$dest/bin/criu"
  log "criu: $ver installed at $dest/bin/criu (linked from /usr/local/sbin/criu)"
}

main "$@"
