"""The image cache: one pull-through registry per upstream registry, shared by every Kind cluster.

registries.py  which upstreams are cached and what each cache is called (pure)
hosts_toml.py  the containerd hosts.toml that points a node at a cache (pure)
credentials.py registry credentials from the environment or Docker's config
proxies.py     the cache containers and volumes on the host's Docker (reuse, restart, replace)
nodes.py       writing hosts.toml into every node of a Kind cluster
client.py      a small registry v2 HTTP client for warming and inspecting the caches
warm.py        `images pull`: pull every image through its cache, resumable
report.py      `cache status`: state, size, images and hits of each cache
"""
