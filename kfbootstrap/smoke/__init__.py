"""`kfbootstrap smoke`: end-to-end checks of a running platform, reported as JUnit and JSON.

Only the standard library speaks HTTP here (urllib, hmac, hashlib), so the checks
add no dependency and behave the same on a laptop and in CI.
"""
