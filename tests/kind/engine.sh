#!/usr/bin/env bash
# Make sure a Docker engine that can run Kind nodes is up; idempotent.
# - a working engine (`docker info` answers) is left alone;
# - dockerd missing: Debian's docker.io is installed;
# - dockerd not running: it is started in the background with ociwrap (see
#   go/ociwrap) as its default runtime, because this VM's capability bounding set
#   lacks CAP_SYS_RESOURCE and plain runc refuses every --privileged container;
# - either way the engine gets an HTTP(S) proxy at a closed local port, so a pull
#   of an upstream image (`docker pull`, kind pulling a node image) fails at once
#   instead of trying the internet; an engine running without it is restarted.
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

closed_proxy=http://127.0.0.1:1
if docker info >/dev/null 2>&1; then
  [ "$(docker info --format '{{.HTTPSProxy}}' 2>/dev/null)" = "$closed_proxy" ] && exit 0
  [ "$(id -u)" = 0 ] || { echo "error: the Docker engine has no closed proxy and restarting it needs root" >&2; exit 1; }
  log "dockerd runs without the closed proxy ($closed_proxy): restarting it"
  restart=1
else
  [ "$(id -u)" = 0 ] || { echo "error: no Docker engine answers and starting one needs root" >&2; exit 1; }
  restart=0
fi

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
conf.pop("proxies", None)  # Debian's dockerd 20.10 knows no such key: the proxy is its environment
json.dump(conf, open(path + ".new", "w"), indent=2)
os.replace(path + ".new", path)
PY

# The proxy is dockerd's environment (daemon.json's `proxies` needs dockerd 23+); loopback
# stays direct: the tests push to registries they publish on 127.0.0.1.
proxy_env=(HTTP_PROXY="$closed_proxy" HTTPS_PROXY="$closed_proxy" NO_PROXY="127.0.0.0/8,localhost,::1")
if systemctl is-active --quiet docker 2>/dev/null; then
  mkdir -p /etc/systemd/system/docker.service.d
  printf '[Service]\nEnvironment="%s" "%s" "%s"\n' "${proxy_env[@]}" > /etc/systemd/system/docker.service.d/kfb-proxy.conf
  systemctl daemon-reload
fi
if [ "$restart" = 1 ]; then
  if systemctl is-active --quiet docker 2>/dev/null; then
    systemctl restart docker
  else
    pkill -x dockerd || true
    for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 && exit 0
fi

logfile="${KFB_DOCKERD_LOG:-/var/log/kfb-dockerd.log}"
log "starting dockerd (log: $logfile)"
# setsid: the engine must outlive this script and the make that ran it.
setsid env "${proxy_env[@]}" dockerd >>"$logfile" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "error: dockerd did not answer within 60s; see $logfile" >&2
tail -n 20 "$logfile" >&2
exit 1
