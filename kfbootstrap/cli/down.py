"""`kfbootstrap down`: delete the Kind cluster we created (or, with --keep-cluster, only what we applied) and stop our port-forwards."""

from __future__ import annotations

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, NameOption, load, run_context


def down(
    config: ConfigOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    keep_cluster: Annotated[
        bool,
        typer.Option(
            "--keep-cluster", help="Keep the cluster; delete only the objects kfbootstrap applied (found by its label)."
        ),
    ] = False,
    purge_cache: Annotated[
        bool,
        typer.Option(
            "--purge-cache",
            help="Also remove the image caches and their volumes (every cached layer; other clusters lose them too).",
        ),
    ] = False,
) -> None:
    """Delete the Kind cluster, or with --keep-cluster only what kfbootstrap applied. A cluster kfbootstrap did not create is never deleted."""
    kind_name = None
    if context and not keep_cluster:
        from kfbootstrap.cli.common import new_runner
        from kfbootstrap.teardown import kind_cluster_of

        kind_name = kind_cluster_of(context, new_runner)
    if kind_name is not None:  # `--context kind-kubeflow` is the Kind cluster kubeflow: what plain `down` deletes
        name, context = name or kind_name, None
    loaded = load(config, cluster__name=name, cluster__context=context)
    if loaded.config.cluster.existing and not keep_cluster:
        from kfbootstrap.errors import UsageError

        raise UsageError(
            f"kfbootstrap did not create the cluster of context {loaded.config.kube_context or '(current)'} "
            "and never deletes it",
            hint="pass --keep-cluster to delete only the objects kfbootstrap applied to it",
        )
    from kfbootstrap import ui
    from kfbootstrap.access.forwards import stop_for_context

    if purge_cache:  # before anything is deleted: a down that cannot finish should not start
        from kfbootstrap.cache_admin import require_docker

        require_docker(run_context(loaded).runner, "--purge-cache removes the image caches there; nothing was deleted")
    if keep_cluster:
        _delete_applied(loaded.config)
    else:
        _delete_kind_cluster(loaded)
    # Only after the delete worked (a failed one leaves the platform, and its forwards, usable), and only
    # this cluster's: the forwards of other clusters keep serving.
    stopped = stop_for_context(loaded.config.kube_context)
    if stopped:
        ui.step_done(f"Stop port-forwards ({', '.join(r.spec.target for r in stopped)})", 0.0)
    if purge_cache:
        _purge_cache(loaded)


def _purge_cache(loaded) -> None:
    """The caches outlive `down` on purpose (the next cluster pulls nothing); this is the way to drop them."""
    from kfbootstrap import ui
    from kfbootstrap.cache_admin import purge_all

    removed = purge_all(loaded.config, run_context(loaded).runner)
    if removed:
        ui.step_done("Remove the image caches", 0.0, f"{len(removed)} containers and volumes")
    else:
        ui.step_skipped("Remove the image caches", "none found")


def _delete_applied(config) -> None:
    """Everything labelled kfbootstrap.dev/managed-by=kfbootstrap, in a safe order (kube/cleanup.py)."""
    from kfbootstrap import ui
    from kfbootstrap.errors import KfbError
    from kfbootstrap.teardown import delete_applied

    context = config.kube_context
    title = f"Delete what kfbootstrap applied (context {context or 'current'})"
    with ui.step_line(title) as line:
        report = delete_applied(config, progress=lambda text: ui.step_progress(text, plain=text))
    if report.failed:
        ui.step_failed(title, line.elapsed())
        first, why = report.failed[0]
        scope = f" -n {first.namespace}" if first.namespace else ""
        also = f"; besides, {_unlisted_kinds(report)}" if report.unlisted else ""
        raise KfbError(
            f"{len(report.failed)} objects could not be deleted, e.g. {first}: {why}{also}",
            hint=f"check your permissions (`kubectl --context {context or '(current)'} auth can-i delete "
            f"{report.resources.get(first, first.kind.lower())}{scope}`) and re-run",
        )
    if report.unlisted:  # what could not even be found is not gone: never a ✓
        ui.step_failed(title, line.elapsed())
        first_kind = report.unlisted[0]
        deleted = f"{len(report.deleted)} objects deleted, but " if report.deleted else ""
        hint = first_kind.hint
        if first_kind.status == 403:
            every = " --all-namespaces" if first_kind.namespaced else ""
            hint = (
                f"your kube user may not list them: `kubectl --context {context or '(current)'} auth can-i list "
                f"{first_kind.resource}{every}`; re-run `kfbootstrap down --keep-cluster` with a context that can"
            )
        raise KfbError(f"{deleted}{_unlisted_kinds(report)}; the first: {first_kind.message}", hint=hint)
    if not report.deleted:
        ui.step_skipped(title, "nothing labelled by kfbootstrap")
        return
    ui.step_done(
        title, line.elapsed(), f"{len(report.deleted)} objects; namespaces finish terminating in the background"
    )


def _unlisted_kinds(report) -> str:
    names = [u.resource for u in report.unlisted]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        f"{len(names)} kind{'s' if len(names) != 1 else ''} could not be listed ({shown}), so what "
        "kfbootstrap applied of them was not removed"
    )


def _delete_kind_cluster(loaded) -> None:
    from kfbootstrap import ui
    from kfbootstrap.errors import KfbError
    from kfbootstrap.teardown import delete_kind_cluster, kind_cluster_exists

    runner = run_context(loaded).runner
    cluster = loaded.config.cluster.name
    if not kind_cluster_exists(runner, cluster):
        ui.step_skipped(f"Delete Kind cluster {cluster}", "no such cluster")
        return
    with ui.step_line(f"Delete Kind cluster {cluster}") as line:
        try:
            delete_kind_cluster(runner, cluster)  # fails with kind's own ERROR line; its whole output is in the log
        except KfbError:
            ui.step_failed(f"Delete Kind cluster {cluster}", line.elapsed())
            raise
    ui.step_done(f"Delete Kind cluster {cluster}", line.elapsed())


def register(app: typer.Typer) -> None:
    app.command("down")(down)
