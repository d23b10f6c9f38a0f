#!/usr/bin/env bash
# Make (or reuse) the Debian root filesystem of the Kind node image: debootstrap
# of $DEBIAN_SUITE with systemd, iptables and the tools kind runs inside a node.
# The container runtime (containerd, runc, CNI plugins) is built from Go modules
# instead, at kind's versions (runtime.sh), and added per flavour by node.sh. The mirror is read from this machine's apt
# sources, so the build uses whatever Debian mirror the host is set up with.
#   rootfs.sh OUT.tar     writes the rootfs tarball (cached by the caller)
set -euo pipefail
out="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

packages=(systemd systemd-sysv dbus libseccomp2
  iptables nftables iproute2 ethtool socat util-linux mount kmod conntrack ca-certificates
  procps busybox-static bash coreutils findutils hostname)

# The first deb822 URIs line (or one-line `deb` entry) names the host's mirror.
debian_mirror() {
  local uri
  uri="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | cut -d' ' -f1)"
  [ -n "$uri" ] || uri="$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
  [ -n "$uri" ] || { echo "error: no Debian mirror in /etc/apt/sources.list.d or /etc/apt/sources.list" >&2; exit 1; }
  echo "$uri"
}

command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
work="$(mktemp -d "${out}.XXXXXX")"
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  "$DEBIAN_SUITE" "$work/root" "$(debian_mirror)" >&2
# Nothing in the image may need apt's cache or docs; they only make it bigger.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* \
  "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/locale"
tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
