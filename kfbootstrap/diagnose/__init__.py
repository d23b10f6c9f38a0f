"""`kfbootstrap diagnose`: one redacted tar.gz with what is needed to debug a cluster that failed."""
