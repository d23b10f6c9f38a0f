"""Integration tests against the real control-plane testbed (tests/testbed)."""
