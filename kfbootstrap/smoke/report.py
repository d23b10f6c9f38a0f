"""Smoke results as JUnit XML (for CI test tabs) and JSON (for scripts).

JUnit: one <testsuite name="kfbootstrap.smoke">, one <testcase> per check with its
time; a failed check has <failure message=…>, a check that crashed has <error>, a
check of a disabled component is <skipped>. The success note goes to <system-out>.
"""

from __future__ import annotations

import datetime as _dt
import json
import socket
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
SUITE = "kfbootstrap.smoke"


@dataclass
class CheckResult:
    name: str  # e.g. "dex-login"
    component: str  # config component, e.g. "kubeflow"
    title: str
    status: str
    seconds: float
    message: str = ""  # the note on success, the reason otherwise


@dataclass
class SmokeReport:
    results: list[CheckResult] = field(default_factory=list)
    started: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(r.status in (FAILED, ERROR) for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)


def to_junit(report: SmokeReport) -> str:
    totals = {
        "tests": str(len(report.results)),
        "failures": str(report.count(FAILED)),
        "errors": str(report.count(ERROR)),
        "skipped": str(report.count(SKIPPED)),
        "time": f"{report.seconds():.3f}",
    }
    suites = ET.Element("testsuites", {"name": "kfbootstrap smoke", **totals})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": SUITE,
            **totals,
            "timestamp": report.started.strftime("%Y-%m-%dT%H:%M:%S"),
            "hostname": socket.gethostname(),
        },
    )
    if report.properties:
        properties = ET.SubElement(suite, "properties")
        for key, value in report.properties.items():
            ET.SubElement(properties, "property", {"name": key, "value": value})
    for result in report.results:
        _testcase(suite, result)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": f"{SUITE}.{result.component}", "name": result.name, "time": f"{result.seconds:.3f}"},
    )
    if result.status == FAILED:
        ET.SubElement(
            case, "failure", {"message": result.message, "type": "CheckFailed"}
        ).text = f"{result.title}: {result.message}"
    elif result.status == ERROR:
        ET.SubElement(
            case, "error", {"message": result.message, "type": "Error"}
        ).text = f"{result.title}: {result.message}"
    elif result.status == SKIPPED:
        ET.SubElement(case, "skipped", {"message": result.message})
    elif result.message:
        ET.SubElement(case, "system-out").text = result.message


def to_json(report: SmokeReport) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "passed": report.count(PASSED),
            "failed": report.count(FAILED) + report.count(ERROR),
            "skipped": report.count(SKIPPED),
            "seconds": round(report.seconds(), 3),
            "properties": report.properties,
            "checks": [{**asdict(r), "seconds": round(r.seconds, 3)} for r in report.results],
        },
        indent=2,
    )


def write_junit(report: SmokeReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_junit(report), encoding="utf-8")
