"""containerd's hosts.toml (config_path style) that sends a registry's pulls to its cache first.

One file per registry at /etc/containerd/certs.d/<registry>/hosts.toml. containerd
tries each [host] in order and then `server`, so the upstream stays the fallback:
a stopped or broken cache slows a pull down, it never blocks it. The legacy
`registry.mirrors` config patches are not used (they break the CRI plugin of
containerd 2.2), nor a `_default` directory (ignored there).
"""

from __future__ import annotations

from kfbootstrap.cache.registries import Mirror

CERTS_DIR = "/etc/containerd/certs.d"


def hosts_toml(mirror: Mirror) -> str:
    """The file's text: the cache for pull and resolve, then the upstream itself."""
    return "\n".join(
        [
            f"# Written by kfbootstrap: pulls of {mirror.registry} go through its cache {mirror.container},",
            "# and straight to the upstream when the cache does not answer.",
            f'server = "{mirror.server}"',
            "",
            f'[host."{mirror.endpoint}"]',
            '  capabilities = ["pull", "resolve"]',
            "",
        ]
    )


def hosts_path(mirror: Mirror) -> str:
    return f"{CERTS_DIR}/{mirror.registry}/hosts.toml"
