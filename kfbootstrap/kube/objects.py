"""Manifests as data: parse rendered YAML once, name objects, label them, order them for applying.

Pure functions with no API access, so the ordering and labelling rules are unit-tested
on their own. PyYAML's C loader is used because the Kubeflow render is ~12 MB: the
pure-Python loader takes ~26 s on it, the C loader ~3 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from kfbootstrap.errors import KfbError

# Every object kfbootstrap applies carries both labels, so `status`, `down --keep-cluster`
# and re-runs can find it. Our own key prefix instead of app.kubernetes.io/managed-by:
# ~90 objects of the Kubeflow render already set that label (Helm, kustomize, KServe's
# controllers) and overwriting it could change what those tools select.
MANAGED_BY_LABEL = "kfbootstrap.dev/managed-by"
MANAGED_BY_VALUE = "kfbootstrap"
COMPONENT_LABEL = "kfbootstrap.dev/component"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"

WEBHOOK_KINDS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})
CRD_KIND = "CustomResourceDefinition"
NAMESPACE_KIND = "Namespace"

# Apply phases, in order (see plan_phases).
PHASE_FOUNDATION = "namespaces and CRDs"
PHASE_MAIN = "objects"
PHASE_WEBHOOKS = "webhook configurations"
PHASES = (PHASE_FOUNDATION, PHASE_MAIN, PHASE_WEBHOOKS)


class ManifestError(KfbError):
    """A render is not valid Kubernetes YAML (not what kustomize should ever produce)."""


@dataclass(frozen=True, order=True)
class ObjectRef:
    """The identity of one object: what `kubectl get` would need to find it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


def ref_of(obj: Mapping[str, Any], default_namespace: str | None = None) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        meta.get("namespace") or default_namespace,
        str(meta.get("name", "")),
    )


def parse_manifests(text: str, origin: str = "manifests") -> list[dict[str, Any]]:
    """All objects in a multi-document YAML text (empty documents and `List` wrappers handled).

    Raises ManifestError naming the origin and line on invalid YAML or an object without
    apiVersion/kind/metadata.name.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        documents = list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(
            f"{origin}{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})",
            hint="re-render the manifests; a hand-edited pre-rendered file may be broken",
        ) from None
    objects: list[dict[str, Any]] = []
    for number, doc in enumerate(documents, 1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(
                f"{origin}: document {number} is a {type(doc).__name__}, not an object",
                hint="every YAML document must be one Kubernetes object",
            )
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            objects.extend(item for item in doc["items"] if item)
        else:
            objects.append(doc)
    for obj in objects:
        _check_object(obj, origin)
    return objects


def _check_object(obj: Mapping[str, Any], origin: str) -> None:
    meta = obj.get("metadata")
    if not obj.get("apiVersion") or not obj.get("kind") or not isinstance(meta, dict) or not meta.get("name"):
        shown = {k: obj.get(k) for k in ("apiVersion", "kind")} | {
            "name": (meta or {}).get("name") if isinstance(meta, dict) else None
        }
        hint = (
            "generateName is not supported: apply needs a fixed name"
            if isinstance(meta, dict) and meta.get("generateName")
            else "every object needs apiVersion, kind and metadata.name"
        )
        raise ManifestError(f"{origin}: object {shown} lacks apiVersion, kind or metadata.name", hint=hint)


def with_labels(obj: Mapping[str, Any], component: str) -> dict[str, Any]:
    """A copy of `obj` carrying our two labels; only the top level and metadata are copied.

    The caller's object is not changed (renders are shared between steps and `render`).
    """
    labelled = dict(obj)
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: component}
    labelled["metadata"] = meta
    return labelled


def for_apply(obj: Mapping[str, Any], component: str) -> dict[str, Any]:
    """Exactly what we send for `obj` (and what `render` writes): labelled, minus fields others own.

    An aggregated ClusterRole's `rules` belong to the aggregation controller. Kustomize
    renders often carry `rules: []` there; applying that with forced conflicts would
    take the field back on every run, empty it, and have the controller refill it:
    a change on every re-run and a moment without permissions. So we leave it out.
    """
    prepared = with_labels(obj, component)
    if (
        obj.get("kind") == "ClusterRole"
        and obj.get("aggregationRule")
        and str(obj.get("apiVersion", "")).startswith("rbac.authorization.k8s.io/")
    ):
        prepared.pop("rules", None)
    return prepared


def phase_of(obj: Mapping[str, Any]) -> str:
    """Namespaces and CRDs first, webhook configurations last, everything else in between.

    Webhooks go last so no object of the same set is sent to a webhook whose server was
    created a moment ago and has no ready endpoint yet (the reason the upstream loop
    needs several passes).
    """
    kind = obj.get("kind")
    if kind in (NAMESPACE_KIND, CRD_KIND) and str(obj.get("apiVersion", "")) in ("v1", "apiextensions.k8s.io/v1"):
        return PHASE_FOUNDATION
    if kind in WEBHOOK_KINDS and str(obj.get("apiVersion", "")).startswith("admissionregistration.k8s.io/"):
        return PHASE_WEBHOOKS
    return PHASE_MAIN


def plan_phases(objects: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Group objects by phase, keeping the render's order inside each phase."""
    phases: dict[str, list[Mapping[str, Any]]] = {phase: [] for phase in PHASES}
    for obj in objects:
        phases[phase_of(obj)].append(obj)
    return phases


def crd_kinds(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> CRD name for every CRD in a render: which objects must wait for which CRD."""
    kinds: dict[tuple[str, str], str] = {}
    for obj in objects:
        if obj.get("kind") == CRD_KIND:
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                kinds[(str(spec["group"]), str(kind))] = str(obj["metadata"]["name"])
    return kinds


def crd_group_versions(objects: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, list[str]]]:
    """CRD name -> (group, served versions), for refreshing discovery when a CRD becomes Established."""
    found: dict[str, tuple[str, list[str]]] = {}
    for obj in objects:
        if obj.get("kind") == CRD_KIND:
            spec = obj.get("spec") or {}
            versions = [str(v["name"]) for v in spec.get("versions") or [] if v.get("served", True) and v.get("name")]
            found[str(obj["metadata"]["name"])] = (str(spec.get("group", "")), versions)
    return found


def duplicates(objects: Sequence[Mapping[str, Any]], default_namespace: str | None = None) -> list[ObjectRef]:
    """Objects that occur more than once: the later copy would silently win, so we refuse."""
    seen: set[ObjectRef] = set()
    twice: list[ObjectRef] = []
    for obj in objects:
        ref = ref_of(obj, default_namespace)
        if ref in seen:
            twice.append(ref)
        seen.add(ref)
    return twice


def refuse_duplicates(
    objects: Sequence[Mapping[str, Any]], component: str, default_namespace: str | None = None
) -> None:
    """The check `up` (apply_objects) and `render` share: a render must name each object once."""
    twice = duplicates(objects, default_namespace)
    if twice:
        raise KfbError(
            f"{component}: {len(twice)} objects occur more than once, e.g. {twice[0]}",
            hint="a render must name each object once; check the kustomization or the pre-rendered files",
        )


def namespaces_of(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the Namespace objects in a render (the cheap existence check of a re-run)."""
    return sorted(
        str(obj["metadata"]["name"])
        for obj in objects
        if phase_of(obj) == PHASE_FOUNDATION and obj.get("kind") == NAMESPACE_KIND
    )


# Kinds whose controller makes a namespace named like the object, and who that controller is:
# objects of a render inside such a namespace can only apply once the controller has run.
NAMESPACE_CONTROLLERS: dict[tuple[str, str], str] = {
    ("kubeflow.org", "Profile"): "the Kubeflow profile controller (Deployment kubeflow/profiles-deployment)",
}


def controller_namespaces(objects: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """{namespace: (controller, "<Kind> <name>" it makes it from)} for namespaces a controller creates."""
    found = {}
    for obj in objects:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        controller = NAMESPACE_CONTROLLERS.get((group, str(obj.get("kind"))))
        if controller:
            name = str(obj["metadata"]["name"])
            found[name] = (controller, f"{obj['kind']} {name}")
    return found


def dump_manifests(objects: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML with the C dumper, keys in the render's order."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump_all(list(objects), Dumper=dumper, sort_keys=False, default_flow_style=False)
