# Sourced helpers that turn binaries into container images without pulling
# anything: a minimal rootfs in a directory, `docker import` with the image
# config, and (optionally) `docker save` of it for containerd to import.

# base_rootfs DIR: the few files every Go binary or small tool expects.
base_rootfs() {
  local root="$1"
  mkdir -p "$root"/{etc,tmp,usr/local/bin,var/run,proc,sys,dev}
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
}

# import_rootfs ROOT TAG [--change ...]: the directory becomes image TAG.
import_rootfs() {
  local root="$1" tag="$2"; shift 2
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' "$@" - "$tag" >/dev/null
}

# static_image WORK TAG BINARY PATH-IN-IMAGE: one static binary as the entrypoint.
static_image() {
  local work="$1" tag="$2" bin="$3" dest="$4" root
  root="$work/$(echo "$tag" | tr '/:' '__')"
  base_rootfs "$root"
  install -D -m 0755 "$bin" "$root$dest"
  import_rootfs "$root" "$tag" --change "ENTRYPOINT [\"$dest\"]"
  rm -rf "$root"
}

# copy_with_libs ROOTFS DEST FILE...: copy programs out of a Debian rootfs with
# every shared library they load (as ldd inside that rootfs reports it).
copy_with_libs() {
  local from="$1" dest="$2" f lib; shift 2
  for f in "$@"; do
    mkdir -p "$dest$(dirname "$f")"
    cp -aL "$from$f" "$dest$f"
    for lib in $(chroot "$from" ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
      [ -e "$dest$lib" ] && continue
      mkdir -p "$dest$(dirname "$lib")"
      cp -aL "$from$lib" "$dest$lib"
    done
  done
}
