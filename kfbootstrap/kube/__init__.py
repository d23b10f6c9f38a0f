"""The only code that talks to the Kubernetes API (via the kubernetes Python client).

Modules here import `kubernetes` inside functions, never at import time, so the CLI
stays fast to start.
"""
