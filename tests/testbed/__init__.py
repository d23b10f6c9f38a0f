"""Real Kubernetes control plane with kwok-simulated nodes, for integration tests.

`build.sh` compiles the pinned binaries once into a cache outside the checkout;
`cluster.Testbed` runs them. See DESIGN.md section 4 for why this stands in for Kind.
"""
