"""`kfbootstrap serve`: put a model where KServe reads it, serve it, reach it.

model_files: the model on disk (its files, digest and format); kserve_cluster: what KServe the
cluster runs (version, raw deployment mode, serving runtimes); manifests: the objects we create;
model_volume: the model's copy in a PVC; ready: waiting for an InferenceService, saying why not;
serve/listing: what the command does.
"""
