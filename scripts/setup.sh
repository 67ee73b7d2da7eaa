#!/usr/bin/env bash
# Idempotent provisioning for a Debian 12 machine, as root.
# Installs the system packages cryopipe needs, builds CRIU >= 4.2 from the
# upstream tarball in Debian's archive (cached outside the clone), installs
# pnpm, the workspace dependencies and builds every package.
#
# Environment:
#   CRYOPIPE_CACHE   where the built CRIU and the private apt state live
#                    (default /var/cache/cryopipe)
#   CRYOPIPE_SKIP_APT=1  skip apt-get (packages already present)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || die "setup must run as root (it installs Debian packages and builds CRIU); try: sudo bash scripts/setup.sh"
[ -r /etc/debian_version ] || die "setup supports Debian 12 (bookworm) only; /etc/debian_version not found"

APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
export DEBIAN_FRONTEND=noninteractive

criu_build_deps=(build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev
  libprotobuf-dev protobuf-compiler libnl-3-dev libnet1-dev libcap-dev libbsd-dev
  libgnutls28-dev libnftables-dev uuid-dev python3 iproute2 xz-utils)
runtime_pkgs=(ffmpeg aom-tools svt-av1 tmux musl-tools zstd procps util-linux clang-format zsh fish
  ca-certificates git openssh-server openssh-client)
# Slurm 22.05 and munge for the `cryopipe slurm` tests; their harness starts its own daemons.
slurm_pkgs=(slurmctld slurmd slurm-client munge)
# Cross toolchains for the shipped linux-arm64 launcher and addon, qemu to test them.
cross_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user-static)

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

install_apt() {
  [ "${CRYOPIPE_SKIP_APT:-0}" = 1 ] && { log "apt: skipped (CRYOPIPE_SKIP_APT=1)"; return; }
  local need
  mapfile -t need < <(missing_pkgs "${criu_build_deps[@]}" "${runtime_pkgs[@]}" "${slurm_pkgs[@]}" "${cross_pkgs[@]}")
  # The tests fetch Debian's criu package (for its rpc.proto): that needs package lists.
  if [ "${#need[@]}" -gt 0 ] || ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${APT[@]}" update >/dev/null
  fi
  if [ "${#need[@]}" = 0 ]; then log "apt: all packages present"; return; fi
  log "apt: installing ${need[*]}"
  # No daemon may start from a package's postinst (munged, slurmctld, slurmd,
  # sshd): the Slurm and migrate tests start their own, by pid. Debian's
  # policy-rc.d hook says so while installing.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  "${APT[@]}" install --no-install-recommends "${need[@]}" >/dev/null || {
    [ "$own_policy" = 1 ] && rm -f "$policy"
    die "apt-get install failed"
  }
  [ "$own_policy" = 1 ] && rm -f "$policy"
  # Nor at the next boot, where systemd runs the machine.
  if command -v systemctl >/dev/null; then
    systemctl disable ssh.service munge.service slurmctld.service slurmd.service >/dev/null 2>&1 || true
  fi
  return 0
}

install_pnpm() {
  local want
  want=$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$repo/package.json")
  if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
    log "pnpm: installing $want"
    npm install -g --no-fund --no-audit --loglevel=error "pnpm@$want" >/dev/null
  fi
  log "pnpm: $(pnpm --version)"
}

install_apt
bash "$here/provision-criu.sh"
install_pnpm
cd "$repo"
log "pnpm install"
CI=true pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -n 3
log "build"
pnpm -s build >/dev/null 2>"$repo/.build.log" || { cat "$repo/.build.log" >&2; die "build failed"; }
log "ready: criu $(criu_bin --version | head -1 | awk '{print $2}') at $(criu_bin_path)"
