#!/bin/sh
# Everything outside npm that the test suite runs for real (npm test runs this first, as pretest).
# Each check is what its test runs; a failed check names the Debian package that provides it:
#   nginx             test/load-balancer.test.ts: /usr/sbin/nginx in front of three replicas
#   prometheus        test/monitoring.test.ts: /usr/bin/prometheus scrapes a server, promtool
#                     runs the alert rules' unit tests
#   python3           test/client-python.test.ts: `python3` (first on PATH) runs
#                     clients/python/test_warm_client.py (standard library only)
#   python3-requests  test/auth.test.ts: /usr/bin/python3 imports requests (OpenRLHF's HTTP client)
#   mesa-vulkan-drivers, libvulkan1
#                     test/gpu/webgpu.test.ts: onnxruntime-node's WebGPU provider (Dawn) on Mesa's software
#                     Vulkan device, lavapipe, through the Vulkan loader. Dawn refuses Mesa before 25
#                     (bookworm's 22.3 lacks shaderUniform*ArrayDynamicIndexing); where apt offers no
#                     Mesa 25 and the system is Debian 12 (bookworm), the bookworm-backports suite is
#                     added as /etc/apt/sources.list.d/warm-serve-bookworm-backports.sources (deb822)
#                     and these two come from there (apt-get install -t bookworm-backports), with
#                     Mesa's other installed drivers (GL, EGL, VA, VDPAU) and libdrm moved to the
#                     same version: they share Mesa 25's mesa-libgallium.
# Installs the missing ones when it can (root and apt-get); otherwise prints the apt-get line to
# run, and the tests that need them fail naming the package.
set -eu

has_nginx() { /usr/sbin/nginx -v || /usr/bin/nginx -v; }
has_prometheus() {
  for dir in /usr/bin /usr/local/bin; do
    "$dir/prometheus" --version && "$dir/promtool" --version && return 0
  done
  return 1
}
has_python3() { command -v python3; }
has_requests() { /usr/bin/python3 -c 'import requests'; }
# Mesa's Vulkan drivers at version 25 or later (the first Dawn was seen to accept) and the loader.
MESA_MIN=25
has_vulkan() {
  dpkg-query -W -f '${Status}\n' libvulkan1 mesa-vulkan-drivers | grep -c 'ok installed' | grep -qx 2 &&
    dpkg --compare-versions "$(dpkg-query -W -f '${Version}' mesa-vulkan-drivers)" ge "$MESA_MIN" &&
    ls /usr/share/vulkan/icd.d/lvp_icd*.json
}

# check: sets $missing (the packages whose check fails) and $why (each with the test that needs it)
check() {
  missing=""
  vulkan=""
  why=""
  has_nginx >/dev/null 2>&1 || need nginx load-balancer
  has_prometheus >/dev/null 2>&1 || need prometheus monitoring
  has_python3 >/dev/null 2>&1 || need python3 client-python
  has_requests >/dev/null 2>&1 || need python3-requests auth
  has_vulkan >/dev/null 2>&1 || need_vulkan
}
need_vulkan() {
  vulkan="mesa-vulkan-drivers libvulkan1"
  why="${why:+$why, }$vulkan at Mesa $MESA_MIN+ (test/gpu/webgpu.test.ts)"
}
need() { missing="$missing $1"; why="${why:+$why, }$1 (test/$2.test.ts)"; }

# Mesa 25+ from apt: the configured suites when they offer it, else bookworm-backports (added as
# a deb822 source only on Debian 12 and only then). Sets $vulkan_target ("" or -t SUITE).
BACKPORTS=/etc/apt/sources.list.d/warm-serve-bookworm-backports.sources
mesa_candidate() { apt-cache policy mesa-vulkan-drivers | sed -n 's/^ *Candidate: //p'; }
choose_vulkan_source() {
  vulkan_target=""
  if dpkg --compare-versions "$(mesa_candidate)" ge "$MESA_MIN"; then return 0; fi
  # shellcheck disable=SC1091 # the system's own file
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "test-deps: apt offers mesa-vulkan-drivers $(mesa_candidate) here (${PRETTY_NAME:-unknown system}); test/gpu/webgpu.test.ts needs Mesa $MESA_MIN+" >&2
    return 1
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    added_backports=1
    cat >"$BACKPORTS" <<'SOURCES'
# Added by warm-serve's scripts/test-deps.sh: Mesa 25 (lavapipe, a software Vulkan device that
# onnxruntime's WebGPU provider accepts) for test/gpu/webgpu.test.ts. Backports are installed only
# when asked for (-t bookworm-backports): Mesa's drivers and libdrm, which Mesa 25 needs.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  apt-get update -qq
  vulkan_target="-t bookworm-backports"
}

check
[ -z "$missing$vulkan" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing $why; install with: sudo apt-get install$missing${vulkan:+ (and $vulkan from Mesa $MESA_MIN+: on Debian 12, apt-get install -t bookworm-backports $vulkan)}" >&2
  exit 0
fi
echo "test-deps: apt-get install $why"
log="$(mktemp)"
install() {
  apt-get update -qq || return 1
  # shellcheck disable=SC2086 # one word per package
  if [ -n "$missing" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing || return 1; fi
  if [ -n "$vulkan" ]; then
    choose_vulkan_source || return 1
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $vulkan_target $vulkan || return 1
  fi
}
if ! install >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "test-deps: apt-get install$missing${vulkan:+ $vulkan} failed" >&2
  exit 1
fi
rm -f "$log"
[ -n "${added_backports:-}" ] && echo "test-deps: added the bookworm-backports suite ($BACKPORTS) for Mesa $MESA_MIN+"
check
if [ -n "$missing$vulkan" ]; then
  echo "test-deps: still missing after apt-get install: $why" >&2
  exit 1
fi
