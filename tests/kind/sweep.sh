#!/usr/bin/env bash
# Remove what killed e2e runs left on the engine, so they neither eat the
# machine's memory nor hang the next run.
# - A Kind cluster of the e2e tests (name KFB_SWEEP_PREFIX*, default kfb-e2e-) whose nodes were created
#   more than KFB_SWEEP_AGE_MIN minutes ago (default 120; a whole e2e run takes
#   minutes, and other checkouts may be running theirs right now) is deleted.
# - Before that, any cgroup inside such a node that the freezer left FROZEN is
#   thawed: a run killed while runc was starting a container in a node can leave
#   one, and then `docker rm` of the node blocks for ever.
# Only containers kind labelled as nodes of those clusters are touched.
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 KIND_BINARY" >&2; exit 2; }
log() { echo "kindground: $*" >&2; }
prefix="${KFB_SWEEP_PREFIX:-kfb-e2e-}"
max_age_s=$(( ${KFB_SWEEP_AGE_MIN:-120} * 60 ))
freezer_root=/sys/fs/cgroup/freezer/docker
now="$(date +%s)"

thaw_node() {
  local id="$1" state
  [ -d "$freezer_root/$id" ] || return 0
  # mindepth 2: the node's own cgroup is docker's (`docker pause` uses it); only
  # the cgroups runc made inside the node are ours to thaw.
  while IFS= read -r state; do
    if [ "$(cat "$state")" != THAWED ]; then
      log "thawing a frozen cgroup left in a node: ${state#"$freezer_root"/}"
      echo THAWED >"$state" || true
    fi
  done < <(find "$freezer_root/$id" -mindepth 2 -name freezer.state 2>/dev/null)
}

declare -A stale=()
while read -r id cluster; do
  [[ "$cluster" == "$prefix"* ]] || continue
  created="$(docker inspect -f '{{.Created}}' "$id")"
  age=$(( now - $(date -d "$created" +%s) ))
  [ "$age" -ge "$max_age_s" ] || continue
  thaw_node "$(docker inspect -f '{{.Id}}' "$id")"
  stale["$cluster"]=1
done < <(docker ps -a --filter label=io.x-k8s.kind.cluster \
           --format '{{.ID}} {{.Label "io.x-k8s.kind.cluster"}}')

for cluster in "${!stale[@]}"; do
  log "deleting the leftover e2e cluster $cluster"
  # timeout: a node that still cannot be removed must not stall the build
  timeout 120 "$1" delete cluster --name "$cluster" >&2 || log "could not delete $cluster; remove it by hand"
done
