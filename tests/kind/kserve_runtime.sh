#!/usr/bin/env bash
# Build (or reuse) the image of the test ground's ClusterServingRuntime `kserve-sklearnserver`.
# No registry is reachable and KServe's sklearnserver is not on PyPI, so the image is a Debian
# rootfs (debootstrap, python3) with a venv at /opt/kserve holding the pinned KServe SDK and
# scikit-learn (kserve_runtime/requirements.txt) and kserve_runtime/predictor.py as entrypoint,
# which takes the runtime's arguments and serves the V1 protocol as sklearnserver does.
# It runs as uid 1000 (the runtime sets runAsNonRoot) and has tar (models are copied with it).
#   kserve_runtime.sh --key           prints the hash of what the image is made from (this
#                                     script, the requirements, the predictor, the Debian suite):
#                                     tag the image with it, so a change of them builds a new one
#   kserve_runtime.sh CACHE_DIR TAG   builds image TAG unless the engine has it; the rootfs
#                                     tarball is cached in CACHE_DIR by that key. Logs on stderr only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/kserve_runtime"
# shellcheck source=versions.env
source "$here/versions.env"
key="$(printf '%s\n' "$(cat "${BASH_SOURCE[0]}" "$src/requirements.txt" "$src/predictor.py")" "DEBIAN_SUITE=$DEBIAN_SUITE" |
  sha256sum | cut -c1-12)"
if [ "${1:-}" = --key ]; then echo "$key"; exit 0; fi
[ $# = 2 ] || { echo "usage: $0 --key | CACHE_DIR TAG" >&2; exit 2; }
cache="$1" tag="$2"
log() { echo "kindground: $*" >&2; }
docker image inspect "$tag" >/dev/null 2>&1 && exit 0

# shellcheck source=images.sh
source "$here/images.sh"
# The node rootfs's mirror lookup, read out of rootfs.sh rather than moved: editing that file
# would change the node images' cache key and rebuild them.
# shellcheck disable=SC1090
source <(sed -n '/^debian_mirror()/,/^}/p' "$here/rootfs.sh")

rootfs="$cache/kserve-runtime-$key.tar"
venv=/opt/kserve

# build_rootfs ROOT: debootstrap, the venv with the pinned packages, the predictor, user 1000.
build_rootfs() {
  local root="$1"
  debootstrap --variant=minbase --include=python3,python3-venv,tar "$DEBIAN_SUITE" "$root" "$(debian_mirror)" >&2
  # pip runs inside with the host's resolver and CA bundle, both removed after.
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/etc/ssl/certs" && cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca.crt"
  cp "$src/requirements.txt" "$root/tmp/requirements.txt"
  chroot "$root" python3 -m venv "$venv"
  # A clean environment: the host's *_CA_BUNDLE/SSL_CERT_FILE would name the chroot's own bundle.
  local pass=() var
  for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST https_proxy HTTPS_PROXY no_proxy NO_PROXY; do
    [ -n "${!var:-}" ] && pass+=("$var=${!var}")
  done
  chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root PIP_CERT=/etc/ssl/certs/host-ca.crt "${pass[@]}" \
    "$venv/bin/pip" install --no-cache-dir --quiet -r /tmp/requirements.txt >&2
  chroot "$root" "$venv/bin/pip" uninstall --yes --quiet pip >&2
  install -m 0644 "$src/predictor.py" "$root$venv/predictor.py"
  echo 'kserve:x:1000:1000:kserve:/home/kserve:/usr/sbin/nologin' >>"$root/etc/passwd"
  echo 'kserve:x:1000:' >>"$root/etc/group"
  install -d -o 1000 -g 1000 "$root/home/kserve"
  # Nothing at run time reads apt's state, docs, the packages' own test suites or the build's helpers.
  rm -rf "$root/etc/ssl/certs/host-ca.crt" "$root/tmp/requirements.txt" "$root/var/cache/apt/archives/"*.deb \
    "$root/var/lib/apt/lists/"* "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" \
    "$root/usr/share/info"
  find "$root$venv/lib" -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} +
  : >"$root/etc/resolv.conf"
}

mkdir -p "$cache"
work="$(mktemp -d "$cache/kserve-runtime.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ ! -f "$rootfs" ]; then
  log "building the KServe sklearn runtime's rootfs ($rootfs)"
  build_rootfs "$work/root"
  tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$rootfs"
  rm -rf "$work/root"
fi
log "importing $tag"
mkdir "$work/root" && tar -C "$work/root" --numeric-owner -xf "$rootfs"
import_rootfs "$work/root" "$tag" --change 'USER 1000' --change 'WORKDIR /home/kserve' \
  --change 'ENV HOME=/home/kserve PYTHONUNBUFFERED=1' \
  --change "ENTRYPOINT [\"$venv/bin/python\", \"$venv/predictor.py\"]"
