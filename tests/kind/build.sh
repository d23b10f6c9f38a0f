#!/usr/bin/env bash
# Build (or reuse) the Kind test ground: a running Docker engine (engine.sh),
# the pinned kind binary, two offline Kind node images and our test images.
# The node images are kind's in what kfbootstrap and Kubernetes touch: one like
# kind v0.32.0's node (containerd v2.3, the default), one like kind v0.30.0's
# (containerd v2.1, which reads no hosts.toml unless config_path is set).
# Every artifact is cached under ~/.cache/kfbootstrap-testbed/kind by a key of
# what it is made from, so a second run only checks and prints. Output (stdout,
# shell-sourceable, read by tests/e2e):
#   KFB_KIND=<path of kind>  KFB_KIND_NODE_IMAGE=<tag>  KFB_KIND030_NODE_IMAGE=<tag>
#   KFB_ECHO_IMAGE=<tag>  KFB_METALLB_IMAGES=<tag,tag>
#   KFB_KSERVE_CONTROLLER_IMAGE=<tag>  KFB_KSERVE_SKLEARN_IMAGE=<tag>
#   KFB_KSERVE_DIR=<dir with crd/ and rbac/ of the real KServe controller (kserve.sh)>
#
#   build.sh --check         build and start nothing: print the lines above if
#                            every artifact is there and the engine answers,
#                            else say what is missing on stderr and exit 1
#   KFB_TESTBED_CACHE=/dir   where the caches live (as tests/testbed/build.sh)
set -euo pipefail
check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=../testbed/versions.env
source "$repo/tests/testbed/versions.env"
log() { echo "kindground: $*" >&2; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

cache="${KFB_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfbootstrap-testbed}/kind"
mkdir -p "$cache"
if [ "$check_only" = 1 ]; then
  kube_bin="$(bash "$repo/tests/testbed/build.sh" --check | tail -n1)"
else
  kube_bin="$(bash "$repo/tests/testbed/build.sh" | tail -n1)"
  bash "$here/engine.sh"
fi

# go_install DIR MODULE@VERSION [LDFLAGS]: one binary per cache dir, moved in
# only when complete so an interrupted build never leaves half a binary.
go_install() {
  local dir="$1" mod="$2" ldflags="${3:-}"
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
  log "building $mod"
  local tmp; tmp="$(mktemp -d "$cache/go.XXXXXX")"
  # shellcheck disable=SC2086  # MODULE may name several packages of one module
  (cd / && GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" $mod) || { rm -rf "$tmp"; return 1; }
  rm -rf "$dir"; mv "$tmp" "$dir"
}

# shellcheck source=runtime.sh
source "$here/runtime.sh"
# shellcheck source=kserve.sh
source "$here/kserve.sh"

# Every artifact's cache key. Our own small programs: the hash of their sources.
own_key="$(cd "$here/go" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
own="$cache/own-$own_key"
kind_dir="$cache/kind-$KIND_VERSION"
coredns_dir="$cache/coredns-$COREDNS_VERSION"
lpp_dir="$cache/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION"
crictl_dir="$cache/crictl-$CRICTL_VERSION"
rootfs_key="$(printf '%s\n' "$(cat "$here/rootfs.sh")" "DEBIAN_SUITE=$DEBIAN_SUITE" | sha256sum | cut -c1-12)"
rootfs="$cache/rootfs-$DEBIAN_SUITE-$rootfs_key.tar"
containerd_dir="$cache/containerd-$CONTAINERD_VERSION"
runc_dir="$cache/runc-$RUNC_VERSION"
containerd030_dir="$cache/containerd-$KIND030_CONTAINERD_VERSION"
runc030_dir="$cache/runc-$KIND030_RUNC_VERSION"
cni_dir="$cache/cni-plugins-$CNI_PLUGINS_VERSION"
# The node images' key covers every input: pinned versions, the Kubernetes
# binaries' versions, the rootfs, our programs and every file of the build.
# shellcheck disable=SC2046
node_key="$(cat "$here/versions.env" "$repo/tests/testbed/versions.env" "$here/images.sh" "$here/node.sh" \
  "$here/runtime.sh" $(find "$here/node" -type f | LC_ALL=C sort) | sha256sum | cut -c1-12)"
node_image="kfbootstrap.test/kind-node:${K8S_VERSION}-kind032-${rootfs_key}-${own_key}-${node_key}"
node030_image="kfbootstrap.test/kind-node:${K8S_VERSION}-kind030-${rootfs_key}-${own_key}-${node_key}"
echo_image="kfbootstrap.test/echoserver:$own_key"
metallb_dir="$cache/metallb-$METALLB_VERSION"
# the names the MetalLB chart gives its images; `kind load` puts them on the nodes
metallb_images="quay.io/metallb/controller:$METALLB_VERSION quay.io/metallb/speaker:$METALLB_VERSION"

report() {
  echo "KFB_KIND=$kind_dir/kind"
  echo "KFB_KIND_NODE_IMAGE=$node_image"
  echo "KFB_KIND030_NODE_IMAGE=$node030_image"
  echo "KFB_ECHO_IMAGE=$echo_image"
  echo "KFB_METALLB_IMAGES=${metallb_images// /,}"
  kserve_report
}
if [ "$check_only" = 1 ]; then
  docker info >/dev/null 2>&1 || { echo "no Docker engine answers (run \`make kindground\`)" >&2; exit 1; }
  [ -x "$kind_dir/kind" ] || { echo "$kind_dir/kind is missing (run \`make kindground\`)" >&2; exit 1; }
  for img in "$node_image" "$node030_image" "$echo_image" $metallb_images; do
    docker image inspect "$img" >/dev/null 2>&1 || { echo "image $img is missing (run \`make kindground\`)" >&2; exit 1; }
  done
  kserve_check || exit 1
  report; exit 0
fi
if [ ! -x "$own/echoserver" ]; then
  log "building ociwrap, pause, kfbnet, echoserver"
  tmp="$(mktemp -d "$cache/own.XXXXXX")"
  (cd "$here/go" && go build -trimpath -ldflags "-s -w" -o "$tmp/" ./ociwrap ./pause ./kfbnet ./echoserver)
  rm -rf "$own"; mv "$tmp" "$own"
fi

# The slow Go builds and debootstrap run side by side; each caches itself.
pids=()
go_install "$kind_dir" "sigs.k8s.io/kind@$KIND_VERSION" & pids+=($!)
( go_install "$coredns_dir" "github.com/coredns/coredns@$COREDNS_VERSION"
  go_install "$lpp_dir" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
  go_install "$crictl_dir" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
  go_install "$metallb_dir" "go.universe.tf/metallb/controller@$METALLB_VERSION go.universe.tf/metallb/speaker@$METALLB_VERSION" ) & pids+=($!)
( build_runc "$runc_dir" "$RUNC_VERSION"
  build_containerd "$containerd_dir" "$CONTAINERD_VERSION"
  build_cni_plugins "$cni_dir" "$CNI_PLUGINS_VERSION"
  build_runc "$runc030_dir" "$KIND030_RUNC_VERSION"
  build_containerd "$containerd030_dir" "$KIND030_CONTAINERD_VERSION" ) & pids+=($!)
if [ ! -f "$rootfs" ]; then log "debootstrap $DEBIAN_SUITE"; bash "$here/rootfs.sh" "$rootfs" & pids+=($!); fi
build_kserve_controller & pids+=($!)
# The runtime image is mostly downloads (debootstrap, pip): beside the CPU-bound Go builds.
bash "$here/kserve_runtime.sh" "$cache" "$kserve_sklearn_image" & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done

# Leftovers of killed e2e runs (see sweep.sh); needs the kind binary built above.
bash "$here/sweep.sh" "$kind_dir/kind"

# One node build at a time per engine: its intermediate images carry the real
# upstream names (that is what ends up in the node's containerd), so two
# checkouts building at once would tag over and remove each other's.
# build_node TAG CONTAINERD_DIR RUNC_DIR: one flavour of the node image.
build_node() {
  local tag="$1" containerd="$2" runc="$3"
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  (
    flock 9
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
      log "building node image $tag"
      bash "$here/node.sh" "$tag" "$rootfs" "$kube_bin" "$own" "$coredns_dir" "$lpp_dir" "$crictl_dir" \
        "$containerd" "$runc" "$cni_dir"
    fi
  ) 9>"$cache/node-build.lock"
}
build_node "$node_image" "$containerd_dir" "$runc_dir"
build_node "$node030_image" "$containerd030_dir" "$runc030_dir"

# Images the e2e tests load into their clusters themselves (`kind load docker-image`).
# shellcheck source=images.sh
source "$here/images.sh"
test_image() {
  local tag="$1" bin="$2" dest="$3" work
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  work="$(mktemp -d "$cache/img.XXXXXX")"
  static_image "$work" "$tag" "$bin" "$dest"
  rm -rf "$work"
}
test_image "$echo_image" "$own/echoserver" /echoserver
test_image "quay.io/metallb/controller:$METALLB_VERSION" "$metallb_dir/controller" /controller
test_image "quay.io/metallb/speaker:$METALLB_VERSION" "$metallb_dir/speaker" /speaker
kserve_controller_image_build "$kserve_controller_image"

report
