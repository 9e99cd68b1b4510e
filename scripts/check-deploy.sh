#!/usr/bin/env bash
# The deployment files are valid as their tools read them (make test runs this):
# HAProxy's configuration (`haproxy -c`), the alert rules (`promtool check rules`), the
# dashboard (JSON), and the systemd units (`systemd-analyze verify`, with the binaries cargo
# built in place of /opt/arena/bin; any warning fails, since an unknown key is only a warning).
set -euo pipefail
cd "$(dirname "$0")/.."
haproxy_bin=$(command -v haproxy || echo /usr/sbin/haproxy)
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
ARENA_LB_STATE="$state" ARENA_LB_BIND=127.0.0.1:1 ARENA_LB_STATS=127.0.0.1:2 \
  ARENA_SERVER_1=127.0.0.1:3 ARENA_SERVER_2=127.0.0.1:4 ARENA_SERVER_3=127.0.0.1:5 \
  "$haproxy_bin" -c -q -f deploy/haproxy/arena.cfg
promtool check rules deploy/prometheus/alerts.yml > /dev/null
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["panels"], "no panels"' \
  deploy/grafana/arena.json
bin=${1:-target/debug}
for unit in deploy/systemd/*.service; do
  sed "s|/opt/arena/bin/|$PWD/$bin/|" "$unit" > "$state/$(basename "$unit")"
done
warnings=$(systemd-analyze verify "$state"/*.service 2>&1 || true)
if [ -n "$warnings" ]; then
  echo "systemd-analyze verify: $warnings" >&2
  exit 1
fi
echo "[deploy] haproxy.cfg, alerts.yml, arena.json and the systemd units are valid"
