"""The steps of `up`, one module each; pipeline.py puts them in order."""
