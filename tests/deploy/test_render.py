"""deploy/render.py: the replica count and image land in the manifest, or it says why not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import IMAGE, TEMPLATES, render

VARS = ["WORKER_REPLICAS_STAG", "WORKER_REPLICAS_PROD"]
RANGE = "must be an integer from 0 to 100, got"


def test_both_templates_exist() -> None:
    assert [t.name for t in TEMPLATES] == ["worker-run.yaml", "worker-temporal.yaml"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.stem)
@pytest.mark.parametrize(
    ("var", "value", "count"),
    [
        ("WORKER_REPLICAS_STAG", "0", 0),
        ("WORKER_REPLICAS_STAG", "2", 2),
        ("WORKER_REPLICAS_PROD", "100", 100),
        # Secrets pasted into GitHub's form often end with a newline.
        ("WORKER_REPLICAS_PROD", " 7\n", 7),
    ],
)
def test_valid_count_and_image_are_rendered(
    template: Path, var: str, value: str, count: int
) -> None:
    out = render(template, var, value)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "${" not in out.stdout
    deployment = yaml.safe_load(out.stdout)
    assert deployment["spec"]["replicas"] == count
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [IMAGE]


@pytest.mark.parametrize("var", VARS)
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "is not set"),
        ("", "is empty"),
        ("abc", f"{RANGE} 'abc'"),
        ("-1", f"{RANGE} '-1'"),
        ("101", f"{RANGE} '101'"),
        ("2.5", f"{RANGE} '2.5'"),
        ("+3", f"{RANGE} '+3'"),
        ("1_0", f"{RANGE} '1_0'"),
        # ARABIC-INDIC DIGIT THREE, which int() would take.
        ("\u0663", f"{RANGE} '\u0663'"),
        ("3\nreplicas: 50", f"{RANGE} '3\\nreplicas: 50'"),
    ],
)
def test_bad_count_fails_with_one_line_naming_the_variable(
    var: str, value: str | None, says: str
) -> None:
    out = render(TEMPLATES[0], var, value)
    assert out.returncode != 0
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert f"{var} {says}" in out.stderr


def _template(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "replicas: ${REPLICAS}\nimage: ${IMAGE}\nns: ${NAMESPACE}\n",
            "unknown placeholder ${NAMESPACE}",
        ),
        ("replicas: ${REPLICAS}\nimage: ${ IMAGE }\n", "malformed placeholder"),
        ("replicas: 3\nimage: ${IMAGE}\n", "no ${REPLICAS} placeholder"),
    ],
)
def test_template_placeholders_must_be_exactly_the_known_ones(
    tmp_path: Path, text: str, says: str
) -> None:
    template = _template(tmp_path, text)
    out = render(template, "WORKER_REPLICAS_STAG", "1")
    assert out.returncode != 0
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert says in out.stderr and str(template) in out.stderr


def test_kubernetes_dependent_variables_pass_through(tmp_path: Path) -> None:
    template = _template(tmp_path, "replicas: ${REPLICAS}\nimage: ${IMAGE}\nargs: [$(HOME)]\n")
    out = render(template, "WORKER_REPLICAS_STAG", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"replicas: 1\nimage: {IMAGE}\nargs: [$(HOME)]\n"


@pytest.mark.parametrize("image", ["", "ghcr.io/x/worker:1\nkind: Pod", "ghcr.io/x/w:1 extra"])
def test_image_that_would_break_the_yaml_is_refused(image: str) -> None:
    out = render(TEMPLATES[0], "WORKER_REPLICAS_STAG", "1", image=image)
    assert out.returncode != 0
    assert "--image" in out.stderr and "Traceback" not in out.stderr


def test_missing_template_is_a_one_line_error(tmp_path: Path) -> None:
    out = render(tmp_path / "nope.yaml", "WORKER_REPLICAS_STAG", "1")
    assert out.returncode != 0
    assert "cannot read template" in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
