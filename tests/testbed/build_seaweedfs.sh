#!/usr/bin/env bash
# Build (or reuse) SeaweedFS's `weed` binary: the real S3 server the object-store
# smoke check is tested against (Kubeflow 26.03.1 runs SeaweedFS as its object store).
#
# Compiled from the Go module proxy (the pseudo-version pinned in seaweedfs/go.mod)
# and cached outside the checkout under a directory keyed by that version, so a
# second run is a no-op. The last line printed is the path of the binary.
#
#   build_seaweedfs.sh --check   never build: print the path and exit 0 if the
#                                binary is there, else explain on stderr and exit 1
#   KFB_WEED_BIN=/path/weed      use a ready binary instead (nothing built)
#   KFB_TESTBED_CACHE=/dir       where the versioned caches live
set -euo pipefail

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module_dir="$here/seaweedfs"
# The one pinned version: the require line of seaweedfs/go.mod (go.sum pins its dependencies).
version="$(awk '$1 == "require" && $2 == "github.com/seaweedfs/seaweedfs" { print $3 }' "$module_dir/go.mod")"
[ -n "$version" ] || { echo "error: no SeaweedFS version in $module_dir/go.mod" >&2; exit 1; }

if [ -n "${KFB_WEED_BIN:-}" ]; then
  [ -x "$KFB_WEED_BIN" ] || { echo "error: KFB_WEED_BIN=$KFB_WEED_BIN is not an executable" >&2; exit 1; }
  echo "$KFB_WEED_BIN"; exit 0
fi

cache_root="${KFB_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfbootstrap-testbed}"
bin="$cache_root/seaweedfs-$version/bin"
weed="$bin/weed"

if [ -x "$weed" ]; then
  echo "$weed"; exit 0
fi
if [ "$check_only" = 1 ]; then
  echo "$weed is missing (run \`make testbed\`)" >&2
  exit 1
fi

command -v go >/dev/null || { echo "error: Go is needed to build SeaweedFS (or set KFB_WEED_BIN to a ready weed)" >&2; exit 1; }
mkdir -p "$bin"
staging="$(mktemp -d "$bin/../build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
echo "testbed: building SeaweedFS weed $version (slow the first time)" >&2
# Built into the staging dir and moved into place only when complete, so an
# interrupted build never leaves a half-written binary cached.
(cd "$module_dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$staging/weed" github.com/seaweedfs/seaweedfs/weed)
mv -f "$staging/weed" "$weed"
echo "$weed"
