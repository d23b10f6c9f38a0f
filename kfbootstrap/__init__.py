"""kfbootstrap: a local Kubeflow platform on Kind in one command."""

__version__ = "0.1.0"
