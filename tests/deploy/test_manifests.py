"""The rendered Deployments keep the worker's contract: command, probes, drain time, user."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jobrelay.worker.settings import WorkerSettings

from .conftest import ROOT, TEMPLATES, WEB_TEMPLATE, render

CHECK = ["jobrelay-worker", "check"]


def _deployment(template: Path) -> dict[str, Any]:
    out = render(template, "WORKER_REPLICAS_STAG", "1")
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = yaml.safe_load(out.stdout)
    return doc


def _image_uid() -> int:
    users = re.findall(r"^USER (\d+)", (ROOT / "apps/worker/Dockerfile").read_text(), re.M)
    return int(users[-1])


def test_one_deployment_per_subcommand() -> None:
    args = sorted(
        container["args"]
        for template in TEMPLATES
        for container in _deployment(template)["spec"]["template"]["spec"]["containers"]
    )
    assert args == [["run"], ["temporal"]]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.stem)
def test_deployment_keeps_the_worker_contract(template: Path) -> None:
    deployment = _deployment(template)
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    (container,) = pod["containers"]
    assert container["livenessProbe"]["exec"]["command"] == [*CHECK, "--process-only"]
    assert container["readinessProbe"]["exec"]["command"] == CHECK

    env = {e["name"]: e["value"] for e in container["env"]}
    assert float(env["WORKER_GRACE_PERIOD_S"]) < pod["terminationGracePeriodSeconds"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _image_uid() != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    # A read-only root needs a writable mount where `check` finds the status files.
    status_dir = Path(WorkerSettings.model_fields["status_dir"].default)
    mounts = [Path(m["mountPath"]) for m in container["volumeMounts"]]
    assert any(status_dir.is_relative_to(m) for m in mounts), mounts


def test_config_and_secret_names_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for template in TEMPLATES:
        (container,) = _deployment(template)["spec"]["template"]["spec"]["containers"]
        for source in container["envFrom"]:
            ref = source.get("configMapRef") or source["secretRef"]
            assert f"`{ref['name']}`" in readme, ref["name"]


def test_the_web_app_deployment_probes_readyz_and_healthz_and_its_service_selects_it() -> None:
    out = render(WEB_TEMPLATE, "WORKER_REPLICAS_STAG", "2")
    assert out.returncode == 0, out.stderr
    deployment, service = yaml.safe_load_all(out.stdout)
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    web_uid = re.findall(r"^USER (\d+)", (ROOT / "apps/web/Dockerfile").read_text(), re.M)
    assert pod["securityContext"]["runAsUser"] == int(web_uid[-1]) != 0
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    readme = (ROOT / "README.md").read_text()
    for source in container["envFrom"]:
        ref = source.get("configMapRef") or source["secretRef"]
        assert f"`{ref['name']}`" in readme, ref["name"]
