#!/usr/bin/env bash
# Assemble the Kind node image: the Debian rootfs (rootfs.sh) plus our node
# files, the Kubernetes node binaries, and every image kubeadm and kind start,
# imported into the node's containerd (namespace k8s.io) at build time.
#   node.sh TAG ROOTFS.tar KUBE_BIN OWN_BIN COREDNS_DIR LPP_DIR CRICTL_DIR
set -euo pipefail
tag="$1" rootfs="$2" kube_bin="$3" own="$4" coredns="$5" lpp="$6" crictl="$7"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=../testbed/versions.env
source "$here/../testbed/versions.env"
# shellcheck source=images.sh
source "$here/images.sh"
log() { echo "kindground: $*" >&2; }

work="$(mktemp -d "$(dirname "$rootfs")/node.XXXXXX")"
ctrd_pid=""
cleanup() { [ -z "$ctrd_pid" ] || kill "$ctrd_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs"

# Upstream registries a chart or manifest may name; each gets a hosts.toml
# pointing at a closed local port, and `_default` covers every other host.
registries=(_default docker.io registry-1.docker.io registry.k8s.io k8s.gcr.io gcr.io ghcr.io quay.io
  registry.istio.io us-docker.pkg.dev europe-docker.pkg.dev public.ecr.aws mcr.microsoft.com
  nvcr.io docker.elastic.co kfbootstrap.test)

install_node_files() {
  local b r
  for b in kubelet kubeadm kubectl; do install -m 0755 "$kube_bin/$b" "$root/usr/bin/$b"; done
  install -m 0755 "$crictl/crictl" "$own/ociwrap" "$here/node/entrypoint" "$here/node/kubelet-cgroups" "$root/usr/local/bin/"
  install -m 0644 "$here/node/kubelet.service" "$here/node/kubelet.slice" "$root/etc/systemd/system/"
  install -m 0644 "$here/node/crictl.yaml" "$root/etc/crictl.yaml"
  mkdir -p "$root/etc/containerd" "$root/etc/cni/net.d" "$root/kind/manifests" "$root/etc/systemd/system/multi-user.target.wants"
  sed "s/@PAUSE_TAG@/$PAUSE_TAG/" "$here/node/containerd-config.toml" > "$root/etc/containerd/config.toml"
  ln -sf /etc/systemd/system/kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"
  ln -sf /lib/systemd/system/containerd.service "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
  ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
  # Nothing to log in on, and no hardware to manage inside a container.
  for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-modules-load.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  echo "$K8S_VERSION" > "$root/kind/version"
  install -m 0644 "$here/node/manifests/"*.yaml "$root/kind/manifests/"
  for r in "${registries[@]}"; do
    mkdir -p "$root/etc/containerd/certs.d/$r"
    printf 'server = "http://127.0.0.1:1"\n\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n' \
      > "$root/etc/containerd/certs.d/$r/hosts.toml"
  done
}

# build_images: every image the node runs, named as kubeadm and our manifests name them.
build_images() {
  local b img="$work/img" r
  mkdir -p "$img"
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    static_image "$img" "registry.k8s.io/$b:$K8S_VERSION" "$kube_bin/$b" "/usr/local/bin/$b"
  done
  static_image "$img" "registry.k8s.io/etcd:$ETCD_TAG" "$kube_bin/etcd" /usr/local/bin/etcd
  static_image "$img" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$coredns/coredns" /coredns
  static_image "$img" "registry.k8s.io/pause:$PAUSE_TAG" "$own/pause" /pause
  static_image "$img" "kfbootstrap.test/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" "$lpp/local-path-provisioner" /local-path-provisioner

  # kube-proxy programs the node with iptables(-nft): bring those along with their libraries.
  r="$img/kube-proxy"; base_rootfs "$r"
  install -m 0755 "$kube_bin/kube-proxy" "$r/usr/local/bin/kube-proxy"
  # shellcheck disable=SC2046  # the extension modules are dlopen'ed: copy their libraries too
  copy_with_libs "$root" "$r" /usr/sbin/xtables-nft-multi /usr/sbin/conntrack \
    $(cd "$root" && find usr/lib/x86_64-linux-gnu/xtables -name '*.so' | sed 's|^|/|')
  for b in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-nft-multi "$r/usr/sbin/$b"
  done
  import_rootfs "$r" "registry.k8s.io/kube-proxy:$K8S_VERSION"

  # busybox supplies `ip` to kfbnet and the shell the storage helper pods run.
  r="$img/kfbnet"; base_rootfs "$r"
  install -D -m 0755 "$root/bin/busybox" "$r/bin/busybox"; ln -s busybox "$r/bin/ip"
  install -m 0755 "$own/kfbnet" "$r/usr/local/bin/kfbnet"
  import_rootfs "$r" kfbootstrap.test/kfbnet:v1 --change 'ENTRYPOINT ["/usr/local/bin/kfbnet"]'
  r="$img/helper"; base_rootfs "$r"
  install -D -m 0755 "$root/bin/busybox" "$r/bin/busybox"; chroot "$r" /bin/busybox --install -s /bin
  import_rootfs "$r" kfbootstrap.test/local-path-helper:v1 --change 'CMD ["/bin/sh"]'
}

node_images() {
  echo "registry.k8s.io/kube-apiserver:$K8S_VERSION" "registry.k8s.io/kube-controller-manager:$K8S_VERSION" \
    "registry.k8s.io/kube-scheduler:$K8S_VERSION" "registry.k8s.io/kube-proxy:$K8S_VERSION" \
    "registry.k8s.io/etcd:$ETCD_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" \
    "registry.k8s.io/pause:$PAUSE_TAG" kfbootstrap.test/kfbnet:v1 \
    "kfbootstrap.test/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" kfbootstrap.test/local-path-helper:v1
}

# A private containerd with the node's /var/lib/containerd as its root takes
# the images into its content store. --no-unpack: snapshots are made by the
# node's own containerd on first use (CRI unpacks a not-yet-unpacked image).
import_into_node() {
  local sock="$work/containerd.sock"
  cat > "$work/containerd.toml" <<TOML
version = 2
root = "$root/var/lib/containerd"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
TOML
  containerd --config "$work/containerd.toml" > "$work/containerd.log" 2>&1 &
  ctrd_pid=$!
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.2; done
  # shellcheck disable=SC2046
  docker save $(node_images) | ctr --address "$sock" --namespace k8s.io images import --no-unpack -
  ctr --address "$sock" --namespace k8s.io images ls -q >&2
  kill "$ctrd_pid"; wait "$ctrd_pid" 2>/dev/null || true; ctrd_pid=""
  # shellcheck disable=SC2046
  docker rmi $(node_images) >/dev/null
}

install_node_files
log "building the node's images"
build_images
import_into_node
log "importing the node image"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'ENV container=docker' - "$tag" >/dev/null
log "node image $tag ready"
