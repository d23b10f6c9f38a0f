#!/usr/bin/env bash
# Assemble the Kind node image: the Debian rootfs (rootfs.sh) plus our node
# files, the Kubernetes node binaries, and every image kubeadm and kind start,
# imported into the node's containerd (namespace k8s.io) at build time.
# The runtime is the flavour's: containerd and runc built from Go modules at the
# versions of the kind release the flavour stands for (runtime.sh).
#   node.sh TAG ROOTFS.tar KUBE_BIN OWN_BIN COREDNS_DIR LPP_DIR CRICTL_DIR CONTAINERD_DIR RUNC_DIR CNI_DIR
set -euo pipefail
tag="$1" rootfs="$2" kube_bin="$3" own="$4" coredns="$5" lpp="$6" crictl="$7"
containerd_bin="$8" runc_bin="$9" cni_bin="${10}"
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

install_node_files() {
  local b
  for b in kubelet kubeadm kubectl; do install -m 0755 "$kube_bin/$b" "$root/usr/bin/$b"; done
  install -m 0755 "$crictl/crictl" "$here/node/entrypoint" "$here/node/kubelet-cgroups" "$root/usr/local/bin/"
  install_runtime
  install -m 0644 "$here/node/kubelet.service" "$here/node/kubelet.slice" "$here/node/containerd.service" \
    "$root/etc/systemd/system/"
  install -m 0644 "$here/node/crictl.yaml" "$root/etc/crictl.yaml"
  mkdir -p "$root/etc/cni/net.d" "$root/kind/manifests" "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf /etc/systemd/system/kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"
  ln -sf /etc/systemd/system/containerd.service "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
  ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
  # Nothing to log in on, and no hardware to manage inside a container.
  for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-modules-load.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  echo "$K8S_VERSION" > "$root/kind/version"
  install -m 0644 "$here/node/manifests/"*.yaml "$root/kind/manifests/"
}

# install_runtime: the flavour's containerd, runc and CNI plugins where kind's
# node has them, kind's containerd config, and its base spec: `ctr oci spec`
# without rlimits (kind's Dockerfile does the same; we skip its product-uuid hook).
# ociwrap (see go/ociwrap) takes runc's name first on PATH and hands over to the
# real runc in /usr/sbin, because this VM cannot grant CAP_SYS_RESOURCE.
install_runtime() {
  install -m 0755 "$containerd_bin/containerd" "$containerd_bin/containerd-shim-runc-v2" "$containerd_bin/ctr" \
    "$root/usr/local/bin/"
  install -D -m 0755 "$own/ociwrap" "$root/usr/local/sbin/runc"
  install -D -m 0755 "$runc_bin/runc" "$root/usr/sbin/runc"
  mkdir -p "$root/opt/cni/bin" "$root/etc/containerd"
  install -m 0755 "$cni_bin/"* "$root/opt/cni/bin/"
  sed "s/@PAUSE_TAG@/$PAUSE_TAG/" "$here/node/containerd-config.toml" > "$root/etc/containerd/config.toml"
  "$containerd_bin/ctr" oci spec | python3 -c 'import json, sys
spec = json.load(sys.stdin)
spec["process"].pop("rlimits", None)
json.dump(spec, sys.stdout, indent=2)' > "$root/etc/containerd/cri-base.json"
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
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
TOML
  "$containerd_bin/containerd" --config "$work/containerd.toml" > "$work/containerd.log" 2>&1 &
  ctrd_pid=$!
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.2; done
  # shellcheck disable=SC2046
  docker save $(node_images) | "$containerd_bin/ctr" --address "$sock" --namespace k8s.io images import --no-unpack -
  "$containerd_bin/ctr" --address "$sock" --namespace k8s.io images ls -q >&2
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
