"""Preflight: what `kfbootstrap doctor` shows and what stops `up` before any side effect.

Its own package so the Finding vocabulary (findings.py, a leaf) can be shared by doctor,
the checks and the image cache's line without any of them importing a step.
"""
