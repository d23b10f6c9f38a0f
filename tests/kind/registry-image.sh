#!/usr/bin/env bash
# Make (or reuse) the Docker image of the CNCF Distribution registry the image-cache
# tests use, both as the stand-in "upstream" and as the pull-through cache. Nothing
# is pulled from a container registry: the binary is built from its Go module
# (static, cached by version under ~/.cache/kfbootstrap-testbed) and turned into an
# image with `docker import`, laid out like the official image (config at
# /etc/distribution/config.yml, storage at /var/lib/registry) so the product's
# defaults work on it unchanged. Prints the image name.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=registry.env
source "$here/registry.env"
log() { echo "registry-image: $*" >&2; }

if docker image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1; then echo "$REGISTRY_IMAGE"; exit 0; fi

cache="${KFB_TESTBED_CACHE:-$HOME/.cache/kfbootstrap-testbed}/distribution-$DISTRIBUTION_VERSION"
if [ ! -x "$cache/registry" ]; then
  log "building github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION (static)"
  mkdir -p "$cache"
  GOBIN="$cache/.bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION" >&2
  mv "$cache/.bin/registry" "$cache/registry"
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc/distribution" "$root/var/lib/registry" "$root/tmp"
cp "$cache/registry" "$root/bin/registry"
# Access log on (the tests count the upstream's pulls in it); the debug server
# serves /debug/vars, where a proxy reports its hits and misses.
cat > "$root/etc/distribution/config.yml" <<'YAML'
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  debug:
    addr: :5001
YAML
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENTRYPOINT ["/bin/registry", "serve"]' \
  --change 'CMD ["/etc/distribution/config.yml"]' \
  --change 'EXPOSE 5000' \
  --change 'VOLUME /var/lib/registry' \
  - "$REGISTRY_IMAGE" >/dev/null
log "imported $REGISTRY_IMAGE"
echo "$REGISTRY_IMAGE"
