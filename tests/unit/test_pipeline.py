"""The step pipeline: skip what is done, resume after a failure or Ctrl-C, name the failing step."""

from __future__ import annotations

import pytest

from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError, StepFailed
from kfbootstrap.pipeline import build_steps, run_steps
from kfbootstrap.steps.base import Step
from tests.fakes import FakeRunner


class World:
    """The 'real world' the fake steps change: a set of things that exist."""

    def __init__(self):
        self.things: set[str] = set()
        self.runs: list[str] = []


class MakeThing(Step):
    def __init__(self, world: World, name: str, fail_times: int = 0, interrupt: bool = False):
        self.world, self.name, self.title = world, name, f"Make {name}"
        self.fail_times, self.interrupt = fail_times, interrupt

    def is_done(self, ctx):
        return self.name in self.world.things

    def run(self, ctx):
        self.world.runs.append(self.name)
        if self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        if self.fail_times:
            self.fail_times -= 1
            raise KfbError("it broke", hint="try again")
        self.world.things.add(self.name)


@pytest.fixture
def ctx():
    return RunContext(config=Config(), runner=FakeRunner())


def test_second_run_after_success_runs_nothing(ctx, capsys):
    world = World()
    steps = [MakeThing(world, n) for n in ("a", "b", "c")]
    first = run_steps(steps, ctx)
    second = run_steps(steps, ctx)
    assert first.ran == ["a", "b", "c"] and first.skipped == []
    assert second.ran == [] and second.skipped == ["a", "b", "c"]
    assert world.runs == ["a", "b", "c"]
    assert "already done" in capsys.readouterr().err


def test_failure_stops_the_run_and_names_the_step(ctx):
    world = World()
    steps = [MakeThing(world, "a"), MakeThing(world, "b", fail_times=1), MakeThing(world, "c")]
    with pytest.raises(StepFailed) as raised:
        run_steps(steps, ctx)
    assert raised.value.message == "make b: it broke"
    assert raised.value.hint == "try again"
    assert world.runs == ["a", "b"]  # c never started


def test_rerun_after_failure_resumes_at_the_failed_step(ctx):
    world = World()
    steps = [MakeThing(world, "a"), MakeThing(world, "b", fail_times=1), MakeThing(world, "c")]
    with pytest.raises(StepFailed):
        run_steps(steps, ctx)
    report = run_steps(steps, ctx)
    assert report.skipped == ["a"] and report.ran == ["b", "c"]
    assert world.runs == ["a", "b", "b", "c"]


def test_ctrl_c_propagates_and_the_rerun_resumes(ctx, capsys):
    world = World()
    steps = [MakeThing(world, "a"), MakeThing(world, "b", interrupt=True), MakeThing(world, "c")]
    with pytest.raises(KeyboardInterrupt):
        run_steps(steps, ctx)
    assert "✗ Make b" in capsys.readouterr().err
    report = run_steps(steps, ctx)
    assert report.ran == ["b", "c"] and world.things == {"a", "b", "c"}


class RefusedWhileLooking(Step):
    """A step whose look at the cluster is refused (RBAC), the way the adapter raises it."""

    name, title = "refused", "Install the refused thing"

    def is_done(self, ctx):
        from kfbootstrap.kube.errors import Forbidden

        raise Forbidden("cannot get Secret monitoring/grafana (kube context c): forbidden", hint="check RBAC")

    def run(self, ctx):  # pragma: no cover - must never run
        raise AssertionError("run after a refused is_done")


def test_a_refusal_in_is_done_fails_that_step_by_name(ctx, capsys):
    world = World()
    with pytest.raises(StepFailed) as raised:
        run_steps([MakeThing(world, "a"), RefusedWhileLooking(), MakeThing(world, "c")], ctx)
    assert raised.value.message.startswith("install the refused thing: cannot get Secret monitoring/grafana")
    assert (raised.value.hint, raised.value.exit_code) == ("check RBAC", 1)
    assert "✗ Install the refused thing" in capsys.readouterr().err
    assert world.runs == ["a"]


@pytest.mark.parametrize(
    "settings, present, absent",
    [
        ({}, ["preflight", "cluster", "kubeflow", "grafana"], []),
        ({"components": {"grafana": False, "prometheus": False}}, ["kubeflow"], ["grafana", "prometheus"]),
        ({"cluster": {"context": "other"}}, ["cluster"], []),
    ],
)
def test_build_steps_follows_the_config(settings, present, absent):
    names = [step.name for step in build_steps(Config.model_validate(settings))]
    assert names[:2] == ["preflight", "cluster"]
    assert all(name in names for name in present)
    assert not any(name in names for name in absent)


def test_existing_cluster_gets_no_create_step():
    steps = build_steps(Config.model_validate({"cluster": {"context": "other"}}))
    assert type(steps[1]).__name__ == "ExistingClusterStep"
