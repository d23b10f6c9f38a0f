"""Make controller-gen's KServe CRDs installable, as KServe's own build does.

Usage: kserve_crds.py GENERATED_DIR OUT_DIR

controller-gen's output is not what KServe installs: its Makefile (`manifests`)
edits the schemas afterwards. We repeat the edits that decide whether the API
server accepts the CRDs and what it accepts in them, reading the generated
files, never KServe's YAML:
- ports' `protocol` gets the default "TCP": it is a list-map key, and the API
  server refuses a list-map key that is neither required nor defaulted;
- InferenceService: `ephemeralContainers` goes (it alone pushes the CRD past
  etcd's 1.5 MiB request limit), the `required` lists one level below each
  component go (a predictor's framework needs no `name`), and probes may leave
  out the port (the controller fills it in).
The LLMInferenceService CRDs are left out: their controller is a separate
binary (cmd/llmisvc) that the Kind test ground does not run.
"""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SKIPPED_PREFIX = "serving.kserve.io_llminferenceservice"
PROBES = ("readinessProbe", "livenessProbe")


def default_protocols(node: Any) -> None:
    """Every schema map with a `protocol` property defaults it to TCP."""
    if isinstance(node, dict):
        protocol = node.get("protocol")
        if isinstance(protocol, dict) and protocol.get("type") == "string":
            protocol["default"] = "TCP"
        for value in node.values():
            default_protocols(value)
    elif isinstance(node, list):
        for value in node:
            default_protocols(value)


def children(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from schema.get("properties", {}).values()


def relax_inference_service(spec: dict[str, Any]) -> None:
    """The edits KServe's Makefile makes to the InferenceService schema."""
    for component in children(spec):
        component.get("properties", {}).pop("ephemeralContainers", None)
        containers = component.get("properties", {}).get("containers", {}).get("items", {})
        for field in children(component):
            field.pop("required", None)
        for field in [*children(component), containers]:
            for probe in PROBES:
                handlers = field.get("properties", {}).get(probe, {}).get("properties", {})
                for handler in ("httpGet", "tcpSocket"):
                    handlers.get(handler, {}).pop("required", None)


def main(generated: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(generated.glob("*.yaml")):
        if path.name.startswith(SKIPPED_PREFIX):
            continue
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for version in crd["spec"]["versions"]:
            spec = version["schema"]["openAPIV3Schema"]["properties"].get("spec", {})
            default_protocols(spec)
            if crd["spec"]["names"]["kind"] == "InferenceService":
                relax_inference_service(spec)
        # compact JSON: what the API server stores, so its size is what counts
        (out / f"{path.stem}.json").write_text(json.dumps(crd, separators=(",", ":")))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
