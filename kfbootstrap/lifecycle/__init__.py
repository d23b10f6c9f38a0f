"""Pause and resume a Kind cluster kfbootstrap created: `stop`, `start`, and `up` on a stopped cluster.

nodes.py finds the node containers and their order, ownership.py decides whether the cluster is ours,
addresses.py repairs what a restart on other Docker addresses breaks, kept_forwards.py remembers the
background forwards `stop` ended, stop.py and start.py put these together.
"""
