"""deploy/kubernetes, checked offline (no cluster runs here): every overlay renders with
``kubectl kustomize``; every object validates against the Kubernetes schemas
(``kubernetes-validate``) or, for KEDA's and the Prometheus Operator's kinds, against the
schemas in deploy/kubernetes/schemas; and the manifests hold to the code: settings spelt as
common/settings.py spells them, probe paths the API serves, queues the topology declares."""

from __future__ import annotations

import base64
import inspect
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest

from common.bus.rabbitmq import RabbitBus
from common.bus.topology import STAGE_QUEUES, topology
from common.settings import Settings
from ingress.auth.secret import resolve_jwt_secret
from tests.deploy.kubernetes_render import (
    OVERLAYS,
    crd_schema,
    of_kind,
    our_containers,
    render,
    workloads,
)

# The oldest Kubernetes still supported by its project when this was written, and the newest
# kubernetes-validate knows.
K8S_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
STAGES = ("decode", "upscale", "encode", "webhooks")
# Variables our containers set that are not settings: read by Python and the libraries.
PROCESS_VARIABLES = {"HOME", "PYTHONDONTWRITEBYTECODE"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_object_validates(overlay: str) -> None:
    objs = render(overlay)
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "Service", "ScaledObject", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"} <= kinds
    for obj in objs:
        schema = crd_schema(obj)
        if schema is not None:
            jsonschema.validate(obj, schema)
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_a_misspelt_field_fails_validation() -> None:
    """The checks above can fail: one wrong key in a Deployment or a ScaledObject is caught."""
    objs = render("gpu")
    deployment = dict(of_kind(objs, "Deployment")["api"])
    deployment["spec"] = {**deployment["spec"], "replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    scaled = dict(of_kind(objs, "ScaledObject")["upscale"])
    scaled["spec"] = {**scaled["spec"], "cooldownPeriods": 60}
    schema = crd_schema(scaled)
    assert schema is not None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, schema)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_set_is_a_setting_spelt_as_the_code_spells_it(overlay: str) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    objs = render(overlay)
    config = of_kind(objs, "ConfigMap")["enhancer-config"]["data"]
    assert set(config) - settings == set()
    for workload, container in our_containers(objs):
        names = {e["name"] for e in container.get("env", [])}
        assert names - settings - PROCESS_VARIABLES == set(), (workload, container["name"])
        assert [s["configMapRef"]["name"] for s in container["envFrom"]] == ["enhancer-config"]
    # The values parse: the settings the pods get are valid settings.
    Settings(_env_file=None, **{k.lower(): v for k, v in config.items()})  # type: ignore[arg-type]


def test_only_the_api_gets_the_token_key_and_secrets_come_from_the_secret() -> None:
    for overlay in OVERLAYS:
        for workload, container in our_containers(render(overlay)):
            env = {e["name"]: e for e in container.get("env", [])}
            assert ("JWT_SECRET_KEY" in env) == (workload == "api"), (overlay, workload)
            for name in ("JWT_SECRET_KEY", "MONGO_URL", "AMQP_URL", "METRICS_TOKEN"):
                if name in env:
                    ref = env[name]["valueFrom"]["secretKeyRef"]
                    assert (ref["name"], ref["key"]) == ("enhancer-secrets", name)


async def test_every_probe_path_is_answered_by_the_api(store: Any) -> None:
    """Each httpGet probe, asked of the real app (real database, started bus): 200."""
    from common.bus import MemoryBus
    from common.runtime import Runtime
    from ingress.app import create_app

    probes = set()
    for overlay in OVERLAYS:
        for workload, container in our_containers(render(overlay)):
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(kind)
                if probe and "httpGet" in probe:
                    assert workload == "api", (workload, kind)  # stages serve no routes
                    assert probe["httpGet"]["port"] == "http"
                    probes.add((kind, probe["httpGet"]["path"]))
    assert probes == {("readinessProbe", "/api/health"), ("livenessProbe", "/api/health/live"),
                      ("startupProbe", "/api/health/live")}
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    app = create_app(Runtime(settings=settings, store=store, bus=bus, embedded=False),
                     jwt_secret="k" * 40)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://pod") as client:
            for _, path in sorted(probes):
                assert (await client.get(path)).status_code == 200, path
    finally:
        await bus.close()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaled_objects_watch_the_queues_the_topology_declares(overlay: str) -> None:
    objs = render(overlay)
    namespace = of_kind(objs, "ConfigMap")["enhancer-config"]["data"]["BUS_NAMESPACE"]
    declared = {q.name: q.logical for q in topology(namespace, 5).queues
                if q.dead_letter_queue is not None}
    scaled = of_kind(objs, "ScaledObject")
    assert set(scaled) == set(STAGES)
    watched: dict[str, set[str]] = {}
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == name
        assert name in of_kind(objs, "Deployment")
        for trigger in obj["spec"]["triggers"]:
            assert trigger["type"] == "rabbitmq"
            assert trigger["authenticationRef"]["name"] in of_kind(objs, "TriggerAuthentication")
            queue = trigger["metadata"]["queueName"]
            assert queue in declared, f"{name} watches {queue}, which the code never declares"
            watched.setdefault(name, set()).add(declared[queue])
    # Each stage follows the queues it consumes; upscale also the images lane.
    assert watched == {"decode": {"decode"}, "upscale": {"upscale", "images"},
                       "encode": {"encode"}, "webhooks": {"webhooks"}}
    assert set().union(*watched.values()) == set(STAGE_QUEUES)
    upscale = scaled["upscale"]["spec"]
    assert upscale["minReplicaCount"] == 0 and upscale["cooldownPeriod"] >= 300
    behavior = upscale["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300  # chunks take minutes
    config = of_kind(objs, "ConfigMap")["enhancer-config"]["data"]
    assert int(config["VIDEO_CHUNKS_IN_FLIGHT"]) >= upscale["maxReplicaCount"]
    hpa = of_kind(objs, "HorizontalPodAutoscaler")["api"]["spec"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_grace_periods_cover_the_sigterm_path() -> None:
    close = inspect.signature(RabbitBus).parameters["close_timeout"].default
    wait = Settings(_env_file=None).image_wait_seconds  # type: ignore[call-arg]
    for overlay in OVERLAYS:
        deployments = of_kind(render(overlay), "Deployment")
        for stage in STAGES:
            grace = deployments[stage]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            assert grace > close, (overlay, stage)
        api = deployments["api"]["spec"]["template"]["spec"]
        pause = int(api["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
        assert api["terminationGracePeriodSeconds"] >= wait + pause


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_security_and_operations_defaults(overlay: str) -> None:
    objs = render(overlay)
    ours = workloads(objs)
    for name in ("api", *STAGES):
        pod = ours[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        assert ours[name]["spec"]["template"]["metadata"]["annotations"][
            "prometheus.io/scrape"] == "true"
    for workload, container in our_containers(objs):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, workload
        assert security["allowPrivilegeEscalation"] is False, workload
        assert security["capabilities"]["drop"] == ["ALL"], workload
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), workload
        assert "memory" in container["resources"]["limits"], workload
    budgets = of_kind(objs, "PodDisruptionBudget")
    for name in ("api", *STAGES):
        labels = ours[name]["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
    policies = of_kind(objs, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {},
                                                        "policyTypes": ["Ingress"]}
    from_anywhere = [p for p, o in policies.items()
                     if any("from" not in rule for rule in o["spec"].get("ingress", []))]
    assert from_anywhere == ["api-from-anywhere"]
    assert policies["api-from-anywhere"]["spec"]["podSelector"]["matchLabels"][
        "app.kubernetes.io/component"] == "api"
    metrics = policies["metrics-from-monitoring"]["spec"]["ingress"][0]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}}]
    assert metrics["ports"] == [{"port": 9100, "protocol": "TCP"}]


def test_gpu_only_where_the_gpu_overlay_puts_it() -> None:
    for overlay in OVERLAYS:
        for workload, container in our_containers(render(overlay)):
            on_gpu = overlay == "gpu" and workload == "upscale"
            gpus = container["resources"].get("limits", {}).get("nvidia.com/gpu")
            if container["name"] == "models":  # the init container needs no GPU
                assert gpus is None
                continue
            assert (gpus == 1) == on_gpu, (overlay, workload)
            assert container["image"].endswith(":cuda") == on_gpu, (overlay, workload)
    upscale = of_kind(render("gpu"), "Deployment")["upscale"]["spec"]["template"]["spec"]
    assert upscale["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert upscale["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                       "effect": "NoSchedule"}]
    assert of_kind(render("gpu"), "ConfigMap")["enhancer-config"]["data"]["USE_GPU"] == "TRUE"


def test_dev_runs_its_own_database_and_broker_the_others_point_outside() -> None:
    dev = render("dev")
    sets = of_kind(dev, "StatefulSet")
    assert set(sets) == {"mongodb", "rabbitmq"}
    assert all(s["spec"]["replicas"] == 1 and s["spec"]["volumeClaimTemplates"]
               for s in sets.values())
    secret = of_kind(dev, "Secret")["enhancer-secrets"]
    # The generated development key is one the API accepts in a distributed run.
    key = base64.b64decode(secret["data"]["JWT_SECRET_KEY"]).decode()
    settings = Settings(_env_file=None, jwt_secret_key=key)  # type: ignore[call-arg]
    assert resolve_jwt_secret(settings, embedded=False) == key
    for overlay in ("cpu", "gpu"):
        objs = render(overlay)
        assert not of_kind(objs, "StatefulSet") and not of_kind(objs, "Secret")
        assert of_kind(objs, "ConfigMap")["enhancer-config"]["data"][
            "BLOB_STORE_URL"].startswith("s3://")
    models = of_kind(render("gpu"), "Deployment")["upscale"]["spec"]["template"]["spec"]
    assert [c["command"][-1] for c in models["initContainers"]] == ["prepare"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "models"}} in models[
        "volumes"]
