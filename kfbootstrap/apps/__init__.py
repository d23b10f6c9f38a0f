"""Choose which Kubeflow applications to install, select them from the `example` render, and measure them."""
