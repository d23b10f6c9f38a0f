# Sourced by build.sh: the node's container runtime, built from Go modules the
# way kind's base image builds it (images/base/Dockerfile), one cache dir per
# version. Needs build.sh's go_install and log.

# build_containerd DIR VERSION: containerd, its runc shim and ctr, with the
# build tags kind uses and the version string `containerd --version` prints.
# Built inside the downloaded module, as its own main module: containerd 2.1's
# go.mod has `exclude` lines, which `go install module@version` refuses.
build_containerd() {
  local dir="$1" version="$2" mod=github.com/containerd/containerd/v2 src tmp
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
  log "building $mod@$version (containerd, containerd-shim-runc-v2, ctr)"
  src="$(cd / && go mod download -json "$mod@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  tmp="$(mktemp -d "$cache/go.XXXXXX")"
  (cd "$src" && GOFLAGS="$GOFLAGS -mod=readonly" go build -trimpath -tags "no_aufs no_zfs no_btrfs no_devmapper" \
    -ldflags "-s -w -X $mod/version.Version=$version" -o "$tmp/" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr) \
    || { rm -rf "$tmp"; return 1; }
  rm -rf "$dir"; mv "$tmp" "$dir"
}

# build_runc DIR VERSION: runc needs cgo (nsenter) and libseccomp; linked
# statically, as runc's own `make static` does, so it runs on any node rootfs.
build_runc() {
  local dir="$1" version="$2"
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
  [ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] || [ -f /usr/lib/aarch64-linux-gnu/libseccomp.a ] \
    || apt-get install -y libseccomp-dev >&2 || { apt-get update >&2 && apt-get install -y libseccomp-dev >&2; }
  CGO_ENABLED=1 GOFLAGS="$GOFLAGS -tags=seccomp,urfave_cli_no_docs,netgo,osusergo" \
    go_install "$dir" "github.com/opencontainers/runc@$version" "-extldflags -static"
}

# build_cni_plugins DIR VERSION: kind's four plugins (host-local, loopback, ptp,
# portmap) and bridge, which our CNI daemon (go/kfbnet) configures.
build_cni_plugins() {
  local dir="$1" version="$2" mod=github.com/containernetworking/plugins
  go_install "$dir" "$mod/plugins/ipam/host-local@$version $mod/plugins/main/loopback@$version \
    $mod/plugins/main/ptp@$version $mod/plugins/meta/portmap@$version $mod/plugins/main/bridge@$version"
}
