"""Carry out an upgrade plan around the apply: record, release steps, CRD migrations, prune, record again.

Order, each part safe to repeat, so an interrupted upgrade is finished by re-running `up`:
1. `begin`: the record says which release we upgrade to and lists the old and new
   group-kinds (members of both can be found whatever happens next).
2. `before_apply`: the release's manual steps not done yet (each recorded when done), and
   migrations of CRD versions the new render drops.
3. the apply (ManifestsStep), every object labelled part of the set.
4. `after_apply`: the remaining migrations, the prune (members the new render lacks,
   listed again by label, never deleting what the plan keeps), then the record of what
   is installed now.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from kfbootstrap import ui
from kfbootstrap.kube.applyset import PART_OF_LABEL, Record, group_kind, list_members, object_digest, write_record
from kfbootstrap.kube.crd_migration import CRD_PATH, intermediate, migrate
from kfbootstrap.kube.discovery import Discovery, KindNotServed
from kfbootstrap.kube.objects import ObjectRef, namespaces_of
from kfbootstrap.kube.rest import APPLY_PATCH, KubeRequestError
from kfbootstrap.releases import UpgradeStep
from kfbootstrap.upgrade.plan import Plan, custom_resources, removals

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.upgrade")

FIELD_MANAGER = "kfbootstrap"
MIGRATION_WAIT = 180.0


def begin(kube: "Kube", plan: Plan) -> Record:
    """Record that this run applies `plan.target` (kept from the earlier record: release, members, steps done)."""
    record = plan.record or Record(plan.component)
    record.upgrading_to = plan.target.release if plan.changes_release else ""
    new_kinds = {group_kind(ref) for ref in plan.refs.values()}
    record.group_kinds = sorted(set(record.group_kinds) | new_kinds)
    record.namespaces = sorted(set(record.namespaces) | set(namespaces_of(plan.target.objects)))
    record.api_versions = {**record.api_versions, **_api_versions(plan.refs.values())}
    write_record(kube, record)
    return record


def before_apply(kube: "Kube", plan: Plan, record: Record) -> list[str]:
    """Run the pending release steps and the migrations that must precede the apply; lines saying what was done."""
    said = []
    for step in plan.steps:
        said += _run_step(kube, step, record)
        record.steps_done = [*record.steps_done, step.name]
        write_record(kube, record)
    for migration in [m for m in plan.migrations if m.dropped]:
        new = next(o for o in plan.target.objects if o["metadata"]["name"] == migration.crd)
        live = kube.rest.get_json(f"{CRD_PATH}/{migration.crd}")
        _apply_crd(kube, intermediate(new, live, migration.dropped), plan.component, record.id)
        count = migrate(kube.rest, migration, field_manager=FIELD_MANAGER, deadline=time.monotonic() + MIGRATION_WAIT)
        said.append(f"migrated {count} objects of {migration.crd} to {migration.storage}")
    return said


def after_apply(kube: "Kube", plan: Plan, record: Record, sent: Sequence[Mapping[str, Any]]) -> list[str]:
    """Finish migrations, prune, record what is installed; lines saying what was done."""
    said = []
    for migration in [m for m in plan.migrations if not m.dropped]:
        try:
            count = migrate(
                kube.rest, migration, field_manager=FIELD_MANAGER, deadline=time.monotonic() + MIGRATION_WAIT
            )
            said.append(f"migrated {count} objects of {migration.crd} to {migration.storage}")
        except KubeRequestError as exc:  # e.g. its conversion webhook never served: the next `up` tries again
            ui.warn(f"storedVersions of {migration.crd} not migrated yet: {exc.message}; re-run `kfbootstrap up`")
    members = list_members(kube.rest, record)
    prune, _ = removals(kube.rest, members, set(plan.refs), plan.target.dropped_parts)
    deleted = [member for member in prune if _delete(kube, member.resource, member.ref)]
    if deleted:
        said.append(f"pruned {len(deleted)} objects the new release no longer has")
    for member in deleted:
        log.info("pruned %s", member.ref)
    _finish(kube, plan, record, sent)
    return said


def _finish(kube: "Kube", plan: Plan, record: Record, sent: Sequence[Mapping[str, Any]]) -> None:
    target = plan.target
    record.release, record.apps, record.sizing = target.release, list(target.apps), target.sizing
    record.members = {str(ref): object_digest(obj) for ref, obj in zip(plan.refs.values(), sent)}
    kept = {key for key, _ in plan.kept}
    record.group_kinds = sorted({group_kind(ref) for ref in plan.refs.values()} | _kinds_of(kept, record))
    record.namespaces = sorted(set(namespaces_of(sent)))
    record.upgrading_to, record.steps_done = "", []
    write_record(kube, record)


def _kinds_of(kept: set[str], record: Record) -> set[str]:
    """Group-kinds of kept members stay listed, so a later run still sees (and may prune) them."""
    kinds = set()
    for key in kept:
        kind = key.split("/", 1)[0]
        kinds |= {gk for gk in record.group_kinds if gk.partition(".")[0] == kind}
    return kinds


def _api_versions(refs: Any) -> dict[str, str]:
    return {group_kind(ref): ref.api_version for ref in refs}


def _run_step(kube: "Kube", step: UpgradeStep, record: Record) -> list[str]:
    """Delete what the step names, when it is ours (labelled part of our set) and not protected."""
    discovery = Discovery(kube.rest)
    done = []
    for api_version, kind, namespace, name in step.deletes:
        if f"{kind}/{name}" in step.never:
            continue
        ref = ObjectRef(api_version, kind, namespace or None, name)
        try:
            resource = discovery.resource(api_version, kind)
        except (KindNotServed, KubeRequestError):
            continue
        live = kube.rest.get_json(resource.object_path(ref.namespace, name))
        labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if not live or labels.get(PART_OF_LABEL) != record.id:
            continue  # gone already, or not applied by us: a user's object is never deleted
        if kind == "CustomResourceDefinition" and custom_resources(kube.rest, name):
            continue
        if _delete(kube, resource, ref):
            done.append(f"{step.name}: deleted {ref}")
    return done


def _delete(kube: "Kube", resource: Any, ref: ObjectRef) -> bool:
    response = kube.rest.request(
        "DELETE", resource.object_path(ref.namespace, ref.name), query={"propagationPolicy": "Background"}
    )
    if response.ok:
        return True
    if response.status != 404:
        from kfbootstrap.kube.retry import status_message

        ui.warn(f"could not delete {ref}: {status_message(response.body)[0]}")
    return False


def _apply_crd(kube: "Kube", crd: Mapping[str, Any], component: str, applyset: str) -> None:
    from kfbootstrap.kube.objects import for_apply

    body = for_apply(crd, component)
    body["metadata"]["labels"] = {**body["metadata"]["labels"], PART_OF_LABEL: applyset}
    path = f"{CRD_PATH}/{crd['metadata']['name']}"
    response = kube.rest.request(
        "PATCH",
        path,
        query={"fieldManager": FIELD_MANAGER, "force": "true"},
        body=json.dumps(body).encode(),
        content_type=APPLY_PATCH,
    )
    if not response.ok:
        raise kube.rest.failed("PATCH", path, response)
