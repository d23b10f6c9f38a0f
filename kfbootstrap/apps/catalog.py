"""The release catalogs now live in kfbootstrap/release_parts.py, below the config that checks
`kubeflow.apps` against them. This name stays only until the last importers (edited by others
at the time of the move) import from there; then it goes."""

from kfbootstrap.release_parts import CATALOG_26_03_1, CATALOGS, Catalog, Part, catalog_for

__all__ = ["CATALOG_26_03_1", "CATALOGS", "Catalog", "Part", "catalog_for"]
