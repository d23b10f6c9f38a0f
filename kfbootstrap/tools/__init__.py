"""The only code that runs external programs (kind, kubectl, helm, docker)."""
