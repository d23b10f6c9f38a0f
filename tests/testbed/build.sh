#!/usr/bin/env bash
# Build (or reuse) the binaries of the test control plane: kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok, kwokctl, helm (v3) and
# helm-<v4 version>, and the
# node binaries the Kind test ground's node image needs (kubelet, kubeadm,
# kubectl, kube-proxy). Everything is linked statically (CGO_ENABLED=0) so the
# same binaries also run inside the node's control-plane images.
#
# Everything is compiled from the Go module proxy and cached outside the
# checkout under a directory keyed by the pinned versions, so a second run is a
# no-op. The last line printed is the directory holding the binaries.
#
#   build.sh --check       never build: print the directory and exit 0 if every
#                          binary is there, else explain on stderr and exit 1
#   KFB_TESTBED_BIN=/dir   use ready binaries from /dir instead (nothing built)
#   KFB_TESTBED_CACHE=/dir where the versioned caches live
set -euo pipefail

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=helm4.env
source "$here/helm4.env"

kube_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl kube-proxy)
# helm 4 is named by its version: it is not part of the cache key (see helm4.env).
helm4="helm-${HELM4_VERSION}"
binaries=("${kube_binaries[@]}" etcd kwok kwokctl helm "$helm4")

all_present() {
  local dir="$1" b
  for b in "${binaries[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KFB_TESTBED_BIN:-}" ]; then
  all_present "$KFB_TESTBED_BIN" || { echo "error: KFB_TESTBED_BIN=$KFB_TESTBED_BIN lacks one of: ${binaries[*]}" >&2; exit 1; }
  echo "$KFB_TESTBED_BIN"; exit 0
fi

cache_root="${KFB_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfbootstrap-testbed}"
key="static_k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}"
bin="$cache_root/$key/bin"

# tests/testbed/cluster.py reads kwok's stage YAML (kustomize/stage) from the
# kwok module in the Go module cache; fetch it even when the binaries are cached.
ensure_kwok_module() {
  command -v go >/dev/null || return 0
  (cd / && go mod download "sigs.k8s.io/kwok@${KWOK_VERSION}")
}

if all_present "$bin"; then
  [ "$check_only" = 1 ] || ensure_kwok_module
  echo "$bin"; exit 0
fi
if [ "$check_only" = 1 ]; then
  echo "$bin lacks some of: ${binaries[*]} (run \`make testbed\`)" >&2
  exit 1
fi

command -v go >/dev/null || { echo "error: Go is needed to build the testbed (or set KFB_TESTBED_BIN to ready binaries)" >&2; exit 1; }
mkdir -p "$bin"
staging="$(mktemp -d "$cache_root/$key/build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log() { echo "testbed: $*" >&2; }

# Each binary is built into the staging dir and moved into place only when
# complete, so an interrupted build never leaves a half-written binary cached.
install_into_cache() { local b; for b in "$@"; do mv -f "$staging/$b" "$bin/$b"; done; }

k8s_minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${k8s_minor} \
-X k8s.io/component-base/version.gitTreeState=clean"

export CGO_ENABLED=0
need_kube=0
for b in "${kube_binaries[@]}"; do [ -x "$bin/$b" ] || need_kube=1; done
if [ "$need_kube" = 1 ]; then
  log "building ${kube_binaries[*]} ${K8S_VERSION} (slow the first time)"
  pkgs=(); for b in "${kube_binaries[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$here/kube" && go build -trimpath -ldflags "$k8s_ldflags" -o "$staging/" "${pkgs[@]}")
  install_into_cache "${kube_binaries[@]}"
fi
if [ ! -x "$bin/etcd" ]; then
  log "building etcd ${ETCD_VERSION}"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$staging/etcd" .)
  install_into_cache etcd
fi
if [ ! -x "$bin/kwok" ] || [ ! -x "$bin/kwokctl" ]; then
  log "building kwok and kwokctl ${KWOK_VERSION}"
  kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION}"
  GOBIN="$staging" go install -trimpath -ldflags "$kwok_ldflags" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}"
  install_into_cache kwok kwokctl
fi
if [ ! -x "$bin/helm" ]; then
  log "building helm ${HELM_VERSION}"
  helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  GOBIN="$staging" go install -trimpath -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  install_into_cache helm
fi
if [ ! -x "$bin/$helm4" ]; then
  log "building helm ${HELM4_VERSION}"
  # Without the full version helm 4 reports "v4.3", which is not semver: pyhelm3's version parse raises.
  helm4_ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=${HELM4_VERSION}"
  GOBIN="$staging" go install -trimpath -ldflags "$helm4_ldflags" "helm.sh/helm/v4/cmd/helm@${HELM4_VERSION}"
  mv -f "$staging/helm" "$staging/$helm4"
  install_into_cache "$helm4"
fi
all_present "$bin"
ensure_kwok_module
echo "$bin"
