"""Kubernetes manifests (issue 21, item 6): deploy/ holds valid resources (Kubernetes' own
schemas, strict: an unknown field is an error), the KEDA ScaledObject matches a schema of the
fields it uses (KEDA's CRD is not among kubernetes-validate's schemas) and counts every list
kombu really writes the media queue's messages to, and the workers' grace and probes fit."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import redis
import yaml

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.settings.table import describe_settings
from animgraph.shared.tasknames import DECODE, MEDIA_QUEUE, message_priority

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
# The oldest Kubernetes still widely run, and the newest kubernetes-validate knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _resources() -> list[dict[str, Any]]:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    found = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == found, "kustomization.yaml lists every manifest"
    return [doc for name in listed for doc in yaml.safe_load_all((DEPLOY / name).read_text())]


def _one(kind: str, name: str) -> dict[str, Any]:
    [found] = [r for r in _resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


# What KEDA's ScaledObject may hold, as far as deploy/ uses it (KEDA 2.12+): every object closed
# (a misspelt field fails), the redis trigger's metadata among its documented keys.
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_COUNTS = ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod")
_REDIS_KEYS = (
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv",
    "passwordFromEnv", "usernameFromEnv", "listName", "listLength", "activationListLength",
    "databaseIndex", "enableTLS", "unsafeSsl",
)  # fmt: skip
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in ("name", "kind", "apiVersion")},
                },
                **{k: {"type": "integer", "minimum": 0} for k in _COUNTS},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {"type": "object"},
                            },
                        },
                        "scalingModifiers": {
                            "type": "object",
                            "required": ["formula", "target"],
                            "additionalProperties": False,
                            "properties": {
                                "formula": {"type": "string"},
                                "target": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
                                "activationTarget": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
                                "metricType": {"enum": ["AverageValue", "Value"]},
                            },
                        },
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                            "metricType": {"enum": ["AverageValue", "Value"]},
                            "metadata": _STRINGS,
                            "authenticationRef": {"type": "object"},
                        },
                        "if": {"properties": {"type": {"const": "redis"}}},
                        "then": {
                            "properties": {
                                "metadata": {
                                    "required": ["listName"],
                                    "additionalProperties": False,
                                    "properties": {k: {"type": "string"} for k in _REDIS_KEYS},
                                }
                            }
                        },
                    },
                },
            },
        },
    },
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_kubernetes_resources_are_valid(version: str) -> None:
    core = [r for r in _resources() if r["kind"] != "ScaledObject"]
    assert {r["kind"] for r in core} >= {
        "Deployment",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
        "ConfigMap",
        "Namespace",
    }
    for resource in core:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_scaled_object_is_keda_s_not_kubernetes() -> None:
    scaled = _one("ScaledObject", "animgraph-worker")
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(scaled, VERSIONS[-1], strict=True)
    jsonschema.validate(scaled, SCALED_OBJECT)
    with pytest.raises(jsonschema.ValidationError):  # the schema does refuse a misspelt field
        jsonschema.validate({**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}}, SCALED_OBJECT)
    assert scaled["spec"]["scaleTargetRef"]["name"] == "animgraph-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1, "procedures start on the control queue"


def test_keda_counts_every_list_of_the_media_queue(tmp_path: Path) -> None:
    """Send a step at every TasksPriority through the Celery configuration the producer and the
    workers use, to a real Redis with no worker, and read which lists hold them: the triggers
    must name exactly those, and the formula must add them all up."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        app = create_celery(Settings(redis_url=server.url), server.url)
        for tasks_priority in range(-10, 11):
            app.send_task(
                DECODE,
                args=[None, "task", 0],
                queue=MEDIA_QUEUE,
                priority=message_priority(tasks_priority, amqp=False),
            )
        app.close()
        with redis.Redis.from_url(server.url, decode_responses=True) as raw:
            lists = {k for k in raw.keys("*") if raw.type(k) == "list"}
    finally:
        server.stop()
    assert "media" in lists and len(lists) == 10, lists
    triggers = _one("ScaledObject", "animgraph-worker")["spec"]["triggers"]
    assert {t["metadata"]["listName"] for t in triggers} == lists
    assert len(triggers) == len(lists)
    for trigger in triggers:
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["address"] == "redis.animgraph.svc.cluster.local:6379"
    formula = _one("ScaledObject", "animgraph-worker")["spec"]["advanced"]["scalingModifiers"]
    assert sorted(re.split(r"\s*\+\s*", formula["formula"])) == sorted(t["name"] for t in triggers)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, str]:
    config = _one("ConfigMap", "animgraph-config")["data"]
    return {**config, **{e["name"]: e["value"] for e in container.get("env", [])}}


def test_a_stopping_worker_has_time_to_finish_its_steps() -> None:
    worker = _one("Deployment", "animgraph-worker")
    env = _env(_container(worker))
    settings = Settings.from_environ({k: v for k, v in env.items() if k.startswith("ANIMGRAPH_")})
    grace = settings.worker.grace_s
    assert grace >= settings.worker.time_limit_s, "a step within its time limit always finishes"
    period = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert period >= grace + 30, "Kubernetes waits for the grace before it kills"


def test_the_worker_probes_read_the_heartbeat_file_in_plain_shell(tmp_path: Path) -> None:
    container = _container(_one("Deployment", "animgraph-worker"))
    alive = tmp_path / "animgraph-alive"
    for probe in ("readinessProbe", "livenessProbe"):
        sh, dash_c, script = container[probe]["exec"]["command"]
        assert (sh, dash_c) == ("sh", "-c") and "/tmp/animgraph-alive" in script
        assert not re.search(r"python|celery|animgraph ", script), "no import of the app"
        ours = script.replace("/tmp/animgraph-alive", str(alive))

        def run(script: str = ours) -> int:
            return subprocess.run(["sh", "-c", script], capture_output=True).returncode

        assert run() != 0, "no heartbeat file"
        alive.touch()
        assert run() == 0, "a fresh one"
        os.utime(alive, (time.time() - 120, time.time() - 120))
        assert run() != 0, "two minutes old (find alone would exit 0 here)"
        alive.unlink()


def test_every_animgraph_variable_is_a_setting() -> None:
    known = {s.variable for s in describe_settings()}
    for kind in ("Deployment", "StatefulSet"):
        for resource in (r for r in _resources() if r["kind"] == kind):
            for name in (
                _env(_container(resource)) if "animgraph" in resource["metadata"]["name"] else {}
            ):
                assert not name.startswith("ANIMGRAPH_") or name in known, name
