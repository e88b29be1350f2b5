#!/bin/sh
# Everything outside npm that the test suite runs for real (npm test runs this first, as pretest).
# Each check is what its test runs; a failed check names the Debian package that provides it:
#   nginx             test/load-balancer.test.ts: /usr/sbin/nginx in front of three replicas
#   prometheus        test/monitoring.test.ts: /usr/bin/prometheus scrapes a server, promtool
#                     runs the alert rules' unit tests
#   python3           test/client-python.test.ts: `python3` (first on PATH) runs
#                     clients/python/test_warm_client.py (standard library only)
#   python3-requests  test/auth.test.ts: /usr/bin/python3 imports requests (OpenRLHF's HTTP client)
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

# check: sets $missing (the packages whose check fails) and $why (each with the test that needs it)
check() {
  missing=""
  why=""
  has_nginx >/dev/null 2>&1 || need nginx load-balancer
  has_prometheus >/dev/null 2>&1 || need prometheus monitoring
  has_python3 >/dev/null 2>&1 || need python3 client-python
  has_requests >/dev/null 2>&1 || need python3-requests auth
}
need() { missing="$missing $1"; why="${why:+$why, }$1 (test/$2.test.ts)"; }

check
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing $why; install with: sudo apt-get install$missing" >&2
  exit 0
fi
echo "test-deps: apt-get install $why"
log="$(mktemp)"
# shellcheck disable=SC2086 # one word per package
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "test-deps: apt-get install$missing failed" >&2
  exit 1
fi
rm -f "$log"
check
if [ -n "$missing" ]; then
  echo "test-deps: still missing after apt-get install: $why" >&2
  exit 1
fi
