"""Keep the objects of the chosen applications (and what they need) from one `example` render.

The render is made once with origin annotations; each object is attributed to a part
of the release's catalog by its source path, the chosen parts are kept, and each kept
object is labelled with its part so `up` can later tell what it installed for which
app. Objects are never edited except for two things, each said in the result:

- the origin annotation is removed (kfbootstrap/apps/origin.py says why);
- a cert-manager Certificate whose Issuer was dropped with another app is pointed back
  at the Issuer its own source file defines. Kustomize's name references cross over
  between applications in `example`: KServe's three Certificates name
  `pvcviewer-selfsigned-issuer` (the notebooks' Issuer); rendered alone, KServe's
  kustomization names its own `selfsigned-issuer` (see the fixtures' MANIFEST). Without
  the notebooks those Certificates would never be issued and KServe's webhooks never
  serve.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from kfbootstrap.release_parts import Catalog
from kfbootstrap.apps.origin import NoOrigin, source_of, without_origin
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.manifests import ORIGIN_DIR

PART_LABEL = "kfbootstrap.dev/part"


@dataclass
class Selection:
    """What a choice of apps keeps of a render."""

    apps: list[str]  # what the user chose (every app of the catalog by default)
    parts: list[str]  # the apps plus what they need, in catalog order
    objects: list[dict[str, Any]]  # what to apply: selected, labelled, origin stripped
    part_of: list[str]  # the part of each object in `objects`
    dropped: Counter = field(default_factory=Counter)  # objects left out, per part
    repaired: list[str] = field(default_factory=list)  # Certificates pointed back at their own Issuer
    dangling: list[str] = field(default_factory=list)  # references to objects outside the selection
    resized: list[str] = field(default_factory=list)  # requests lowered by kubeflow.sizing (kfbootstrap/apps/sizing.py)

    def by_part(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {part: [] for part in self.parts}
        for obj, part in zip(self.objects, self.part_of):
            grouped.setdefault(part, []).append(obj)
        return grouped


def check_apps(catalog: Catalog, apps: Sequence[str]) -> list[str]:
    """The chosen apps, validated against the catalog (a ConfigError names the unknown ones)."""
    known = catalog.apps()
    unknown = [a for a in apps if a not in known]
    if unknown:
        raise ConfigError(
            f"kubeflow.apps: unknown application{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"in release {catalog.release}",
            hint=f"choose from: {', '.join(known)}",
        )
    if not apps:
        raise ConfigError(
            "kubeflow.apps is empty",
            hint="leave it out for every application, or switch components.kubeflow off for none",
        )
    return [a for a in known if a in apps]


def select(
    objects: Sequence[Mapping[str, Any]],
    catalog: Catalog,
    apps: Sequence[str] | None,
    built_from: str = ORIGIN_DIR,
    root: str = ".",
) -> Selection:
    """The objects of `apps` (None: all of them) and of the common parts they need."""
    chosen = check_apps(catalog, apps) if apps is not None else catalog.apps()
    parts = catalog.closure(chosen)
    sources = [_source_or_none(obj, built_from, root) for obj in objects]  # read each annotation once
    owners = [_owner(obj, source, catalog, everything=apps is None) for obj, source in zip(objects, sources)]
    missing = [part for part in parts if part not in owners]
    if apps is not None and missing:
        raise KfbError(
            f"cannot choose applications: the render has nothing of {', '.join(missing)}",
            hint="a render written by `kfbootstrap render --apps ...` holds only those apps: render "
            "again with the apps you want, or point kubeflow.path at the release's checkout",
        )
    kept = set(parts)
    selection = Selection(chosen, parts, [], [])
    for obj, owner in zip(objects, owners):
        if owner in kept or owner == "":
            selection.objects.append(_labelled(without_origin(obj), owner))
            selection.part_of.append(owner)
        else:
            selection.dropped[owner] += 1
    _repair_issuers(selection, objects, owners, sources)
    selection.dangling += _dangling_ca_injections(selection.objects)
    return selection


def _owner(obj: Mapping[str, Any], source: str | None, catalog: Catalog, everything: bool) -> str:
    """The part an object belongs to; "" (kept, unlabelled) only when everything is installed anyway.

    An object that already carries our part label (a file `kfbootstrap render` wrote,
    origin stripped) keeps that part, so such a file can be chosen from again.
    """
    labelled = ((obj.get("metadata") or {}).get("labels") or {}).get(PART_LABEL)
    if labelled and source is None:
        return str(labelled)
    if source is None:
        if everything:
            return ""
        raise KfbError(
            f"cannot choose applications: {_name(obj)} has no {ORIGIN_DIR} origin annotation",
            hint="kubeflow.apps needs a render made with origin annotations: a release or checkout "
            "(rendered by kfbootstrap), or a file written by `kfbootstrap render`",
        )
    owner = catalog.owner(source)
    if owner is None:
        if everything:
            return ""
        raise KfbError(
            f"cannot choose applications: {_name(obj)} comes from {source}, which the "
            f"{catalog.release} catalog does not know",
            hint="leave kubeflow.apps out to install everything the render has, or report the path",
        )
    return owner


def _labelled(obj: Mapping[str, Any], part: str) -> dict[str, Any]:
    if not part:
        return dict(obj)
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), PART_LABEL: part}
    return {**obj, "metadata": meta}


def _repair_issuers(
    selection: Selection, original: Sequence[Mapping[str, Any]], owners: list[str], source_list: list[str | None]
) -> None:
    """Point a Certificate whose Issuer is not selected at the one Issuer its own source file defines."""
    issuers = {
        (o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in selection.objects
        if _is_cert_manager(o, "Issuer")
    }
    sources = {id(obj): source for obj, source in zip(original, source_list)}
    own_issuers: dict[tuple[str | None, str | None], list[str]] = {}
    for obj, owner in zip(original, owners):
        if _is_cert_manager(obj, "Issuer") and owner in selection.parts:
            own_issuers.setdefault((obj["metadata"].get("namespace"), sources[id(obj)]), []).append(
                obj["metadata"]["name"]
            )
    by_name = {(o.get("kind"), o["metadata"].get("namespace"), o["metadata"]["name"]): sources[id(o)] for o in original}
    for index, obj in enumerate(selection.objects):
        if not _is_cert_manager(obj, "Certificate"):
            continue
        ref = (obj.get("spec") or {}).get("issuerRef") or {}
        namespace = obj["metadata"].get("namespace")
        if ref.get("kind", "Issuer") != "Issuer" or (namespace, ref.get("name")) in issuers:
            continue
        candidates = own_issuers.get((namespace, by_name.get(("Certificate", namespace, obj["metadata"]["name"]))), [])
        if len(candidates) == 1:
            spec = {**obj["spec"], "issuerRef": {**ref, "name": candidates[0]}}
            selection.objects[index] = {**obj, "spec": spec}
            selection.repaired.append(
                f"Certificate/{namespace}/{obj['metadata']['name']}: issuer {ref.get('name')} -> {candidates[0]}"
            )
        else:
            selection.dangling.append(
                f"Certificate/{namespace}/{obj['metadata']['name']} names Issuer "
                f"{ref.get('name')}, which is not selected"
            )


def _dangling_ca_injections(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """cert-manager.io/inject-ca-from annotations naming a Certificate outside the selection (cainjector ignores them)."""
    certificates = {
        f"{o['metadata'].get('namespace')}/{o['metadata']['name']}"
        for o in objects
        if _is_cert_manager(o, "Certificate")
    }
    found = []
    for obj in objects:
        wanted = ((obj.get("metadata") or {}).get("annotations") or {}).get("cert-manager.io/inject-ca-from")
        if wanted and wanted not in certificates:
            found.append(f"{_name(obj)} takes its CA from {wanted}, which is not selected")
    return found


def _is_cert_manager(obj: Mapping[str, Any], kind: str) -> bool:
    """cert-manager's kind (Knative has a Certificate kind of its own, with no issuerRef)."""
    return obj.get("kind") == kind and str(obj.get("apiVersion", "")).startswith("cert-manager.io/")


def _source_or_none(obj: Mapping[str, Any], built_from: str, root: str) -> str | None:
    try:
        return source_of(obj, built_from, root)
    except NoOrigin:
        return None


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')}/{where}{meta.get('name')}"
