# Sourced by build.sh: the real KServe controller for the e2e tests' clusters
# (tests/kserve_ground.py installs it), built from KServe's Go module because no
# image can be pulled here. Needs build.sh's go_install, log, cache and repo.
#   manager binary   cmd/manager of github.com/kserve/kserve@$KSERVE_VERSION
#   manifests dir    crd/ (controller-gen from pkg/apis/serving, made installable
#                    by kserve_crds.py) and rbac/ (the manager's ClusterRole from
#                    the controllers' kubebuilder markers)
#   image            the manager as /manager, uid 65532 like KServe's own image
# KServe's webhook markers are not used: controller-gen refuses most of them
# (no admissionReviewVersions) and the InferenceService ones name paths the
# manager does not serve; kserve_ground.py writes the configurations from what
# cmd/manager/main.go registers.

# Pinned here, not in versions.env: that file is part of the node images' cache key.
# controller-gen is the version KServe's kserve-deps.env names (the build checks).
KSERVE_VERSION=v0.20.0
CONTROLLER_TOOLS_VERSION=v0.19.0

kserve_manager_dir="$cache/kserve-manager-$KSERVE_VERSION"
controller_gen_dir="$cache/controller-gen-$CONTROLLER_TOOLS_VERSION"
kserve_manifests_key="$(sha256sum "$here/kserve_crds.py" | cut -c1-12)"
kserve_manifests_dir="$cache/kserve-manifests-$KSERVE_VERSION-$CONTROLLER_TOOLS_VERSION-$kserve_manifests_key"
# The product reads KServe's version from this tag: it must be the bare version.
kserve_controller_image="kfbootstrap.test/kserve-controller:$KSERVE_VERSION"
# Tagged by the hash of what it is built from, so a changed predictor or requirement rebuilds it.
kserve_sklearn_image="kfbootstrap.test/kserve-sklearnserver:$KSERVE_VERSION-$(bash "$here/kserve_runtime.sh" --key)"
# kserve_crds.py needs PyYAML: the project's venv has it (make builds it first).
kserve_python="$repo/.venv/bin/python"
[ -x "$kserve_python" ] || kserve_python=python3

# kserve_source VERSION: the module's directory in the Go module cache (downloaded if need be).
kserve_source() {
  (cd / && go mod download -json "github.com/kserve/kserve@$1") |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

# build_kserve_manager DIR VERSION: built inside the downloaded module, as its
# own main module, so its go.mod's replace lines apply as they are (`go install
# module@version` refuses a module with replace lines) and no tidy is needed.
build_kserve_manager() {
  local dir="$1" version="$2" src tmp
  [ -x "$dir/manager" ] && return 0
  log "building github.com/kserve/kserve@$version ./cmd/manager (about 4 min cold)"
  src="$(kserve_source "$version")"
  tmp="$(mktemp -d "$cache/go.XXXXXX")"
  (cd "$src" && GOFLAGS="$GOFLAGS -mod=readonly" go build -trimpath -ldflags "-s -w" -o "$tmp/" ./cmd/manager) \
    || { rm -rf "$tmp"; return 1; }
  rm -rf "$dir"; mv "$tmp" "$dir"
}

# build_kserve_manifests DIR VERSION CONTROLLER_GEN_DIR: the CRDs and the
# manager's ClusterRole, generated as KServe's Makefile (`manifests`) does.
build_kserve_manifests() {
  local dir="$1" version="$2" cg="$3/controller-gen" src tmp want
  [ -d "$dir/crd" ] && [ -d "$dir/rbac" ] && return 0
  src="$(kserve_source "$version")"
  want="$(sed -n 's/^CONTROLLER_TOOLS_VERSION=//p' "$src/kserve-deps.env")"
  if [ "$want" != "$CONTROLLER_TOOLS_VERSION" ]; then
    log "kserve $version builds with controller-tools $want, versions.env pins $CONTROLLER_TOOLS_VERSION"
    return 1
  fi
  log "generating KServe $version CRDs and RBAC with controller-gen $CONTROLLER_TOOLS_VERSION"
  tmp="$(mktemp -d "$cache/kserve-manifests.XXXXXX")"
  (cd "$src" && export GOFLAGS="$GOFLAGS -mod=readonly" &&
    "$cg" crd:maxDescLen=0 paths=./pkg/apis/serving/... output:crd:dir="$tmp/generated" &&
    "$cg" rbac:roleName=kserve-manager-role \
      'paths={./pkg/controller/v1alpha1/inferencegraph,./pkg/controller/v1alpha1/trainedmodel,./pkg/controller/v1beta1/inferenceservice}' \
      output:rbac:dir="$tmp/rbac" &&
    "$kserve_python" "$here/kserve_crds.py" "$tmp/generated" "$tmp/crd") || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp/generated" "$dir"; mv "$tmp" "$dir"
}

# build_kserve_controller: manager, controller-gen and manifests (one background group of build.sh).
build_kserve_controller() {
  build_kserve_manager "$kserve_manager_dir" "$KSERVE_VERSION"
  go_install "$controller_gen_dir" "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
  build_kserve_manifests "$kserve_manifests_dir" "$KSERVE_VERSION" "$controller_gen_dir"
}

# kserve_controller_image_build TAG: the image of the manager. Its tag is the bare
# version, so the image carries the hash of what made it as a label and is
# rebuilt when that changes.
kserve_controller_image_build() {
  local tag="$1" key root work
  key="$(cat "$kserve_manager_dir/manager" "$here/images.sh" "$here/kserve.sh" | sha256sum | cut -c1-12)"
  [ "$(docker image inspect --format '{{index .Config.Labels "org.kfbootstrap.key"}}' "$tag" 2>/dev/null)" = "$key" ] \
    && return 0
  log "building image $tag"
  work="$(mktemp -d "$cache/img.XXXXXX")"
  root="$work/root"
  base_rootfs "$root"
  # The Deployment says runAsNonRoot: the kubelet then wants a numeric non-root USER.
  echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false' >>"$root/etc/passwd"
  echo 'nonroot:x:65532:' >>"$root/etc/group"
  install -D -m 0755 "$kserve_manager_dir/manager" "$root/manager"
  import_rootfs "$root" "$tag" --change 'USER 65532:65532' --change 'ENTRYPOINT ["/manager"]' \
    --change "LABEL org.kfbootstrap.key=$key"
  rm -rf "$work"
}

kserve_report() {
  echo "KFB_KSERVE_CONTROLLER_IMAGE=$kserve_controller_image"
  echo "KFB_KSERVE_SKLEARN_IMAGE=$kserve_sklearn_image"
  echo "KFB_KSERVE_DIR=$kserve_manifests_dir"
}

# kserve_check: what --check needs; says what is missing on stderr.
kserve_check() {
  [ -d "$kserve_manifests_dir/crd" ] && [ -d "$kserve_manifests_dir/rbac" ] ||
    { echo "$kserve_manifests_dir is missing (run \`make kindground\`)" >&2; return 1; }
  for img in "$kserve_controller_image" "$kserve_sklearn_image"; do
    docker image inspect "$img" >/dev/null 2>&1 || { echo "image $img is missing (run \`make kindground\`)" >&2; return 1; }
  done
}
