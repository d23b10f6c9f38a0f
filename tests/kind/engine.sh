#!/usr/bin/env bash
# Make sure a Docker engine that can run Kind nodes is up; idempotent.
# - a working engine (`docker info` answers) is left alone;
# - dockerd missing: Debian's docker.io is installed;
# - dockerd not running: it is started in the background with ociwrap (see
#   go/ociwrap) as its default runtime, because this VM's capability bounding set
#   lacks CAP_SYS_RESOURCE and plain runc refuses every --privileged container.
#   KFB_DOCKERD_LOG   where dockerd's output goes (default /var/log/kfb-dockerd.log)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "kindground: $*" >&2; }

# kind's documented host limits for clusters of several nodes (kfbootstrap's
# preflight refuses to create one below them); raising them is harmless.
raise_inotify() {
  local key want have
  for pair in fs.inotify.max_user_instances=2280 fs.inotify.max_user_watches=1255360; do
    key="${pair%%=*}" want="${pair#*=}"
    have="$(sysctl -n "$key" 2>/dev/null || echo 0)"
    [ "$have" -ge "$want" ] || sysctl -qw "$pair" || log "could not raise $key (needs root)"
  done
}
raise_inotify

if docker info >/dev/null 2>&1; then exit 0; fi
[ "$(id -u)" = 0 ] || { echo "error: no Docker engine answers and starting one needs root" >&2; exit 1; }

if ! command -v dockerd >/dev/null; then
  log "installing Debian's docker.io"
  apt-get install -y docker.io >&2 || { apt-get update >&2 && apt-get install -y docker.io >&2; }
fi

wrapper=/usr/local/libexec/kfbootstrap-testbed/ociwrap
mkdir -p "$(dirname "$wrapper")"
(cd "$here/go" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$wrapper.new" ./ociwrap)
mv -f "$wrapper.new" "$wrapper"

# Merge our runtime into daemon.json, keeping whatever else an admin set there.
mkdir -p /etc/docker
python3 - "$wrapper" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
conf = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
conf.setdefault("runtimes", {})["kfb-runc"] = {"path": sys.argv[1]}
conf["default-runtime"] = "kfb-runc"
json.dump(conf, open(path + ".new", "w"), indent=2)
os.replace(path + ".new", path)
PY

logfile="${KFB_DOCKERD_LOG:-/var/log/kfb-dockerd.log}"
log "starting dockerd (log: $logfile)"
# setsid: the engine must outlive this script and the make that ran it.
setsid dockerd >>"$logfile" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "error: dockerd did not answer within 60s; see $logfile" >&2
tail -n 20 "$logfile" >&2
exit 1
