#!/bin/sh
# Debian packages the test suite runs for real (npm test runs this first):
#   nginx       test/load-balancer.test.ts (three replicas behind the compose stack's nginx config)
#   prometheus  test/monitoring.test.ts (every Grafana dashboard query against a real Prometheus)
# Installs the missing ones when it can (root and apt-get); otherwise says how, and the tests that
# need them fail naming the package.
set -eu
missing=""
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || missing="$missing nginx"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing$missing (Debian packages)"
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "test-deps: missing$missing; install with: sudo apt-get install$missing" >&2
fi
