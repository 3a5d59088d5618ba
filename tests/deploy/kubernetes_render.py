"""Rendering the kustomize overlays of deploy/kubernetes with kubectl, and reading them."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("cpu", "gpu", "dev")
SCHEMAS = KUBERNETES / "schemas"
OUR_IMAGE = "image-enhancer:"

Obj = dict[str, Any]


@functools.cache
def _kubectl_ready() -> bool:
    """kubectl with kustomize v5 (components, ``labels``): the machines' own kubectl 1.32
    has it; Debian's ``kubernetes-client`` (1.20, kustomize v2) does not."""
    if shutil.which("kubectl") is None:
        return False
    done = subprocess.run(["kubectl", "version", "--client", "-o", "json"],
                          capture_output=True, text=True, timeout=60, check=False)
    version = json.loads(done.stdout or "{}").get("kustomizeVersion", "v0")
    return int(version.lstrip("v").split(".")[0]) >= 5


@functools.cache
def render(overlay: str) -> tuple[Obj, ...]:
    """``kubectl kustomize`` of one overlay: its objects, as the cluster would receive them."""
    if not _kubectl_ready():
        unavailable("kubectl with kustomize v5 or later")
    done = subprocess.run(["kubectl", "kustomize", str(KUBERNETES / "overlays" / overlay)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def crd_schema(obj: Obj) -> Obj | None:
    """The repository's schema for a custom resource, None for Kubernetes' own kinds."""
    group = obj["apiVersion"].split("/")[0]
    if "." not in group or group.endswith(".k8s.io"):
        return None
    path = SCHEMAS / f"{obj['apiVersion'].replace('/', '-')}-{obj['kind']}.json"
    assert path.is_file(), f"no schema for {obj['apiVersion']} {obj['kind']} in {SCHEMAS}"
    schema: Obj = json.loads(path.read_text())
    return schema


def of_kind(objs: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def workloads(objs: tuple[Obj, ...]) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] in ("Deployment", "StatefulSet")}


def our_containers(objs: tuple[Obj, ...]) -> list[tuple[str, Obj]]:
    """``(workload, container)`` for every container (init containers too) of our image."""
    found = []
    for name, work in workloads(objs).items():
        spec = work["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            if container["image"].startswith(OUR_IMAGE):
                found.append((name, container))
    return found
