"""The dashboard's routes without a browser: what is served to whom, and the session cookie."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from importlib import resources

import httpx
import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.queue import QueueSettings
from jobrelay.web import WebSettings, create_app
from jobrelay.web.auth import SESSION_MAX_AGE_S, session_cookie, session_valid

from .conftest import make_dispatcher, serve

TOKEN = "ui-s3cret"


@pytest.fixture
async def guarded(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address, api_token=TOKEN),
        settings=WebSettings(run_reconciler=False, stats_interval_s=0),
    )
    async with serve(app) as client:
        yield client


def test_a_session_cookie_stands_for_its_token_until_it_expires() -> None:
    now = time.time()
    value = session_cookie(TOKEN, now)
    assert TOKEN not in value
    assert session_valid(value, TOKEN, now)
    assert session_valid(value, TOKEN, now + SESSION_MAX_AGE_S - 1)
    assert not session_valid(value, TOKEN, now + SESSION_MAX_AGE_S + 1)
    assert not session_valid(value, "another-token", now)
    expires, _, mac = value.partition(".")
    # A later expiry with the old signature, a bent signature, junk: all refused.
    assert not session_valid(f"{int(expires) + 3600}.{mac}", TOKEN, now)
    bent = mac[:-1] + ("1" if mac[-1] == "0" else "0")
    assert not session_valid(f"{expires}.{bent}", TOKEN, now)
    for junk in ("", ".", "abc", "²³.x", f"{expires}", "9" * 40 + ".00"):
        assert not session_valid(junk, TOKEN, now), junk


async def test_without_a_token_the_page_is_served_at_once(web_client: httpx.AsyncClient) -> None:
    bare = await web_client.get("/ui")
    assert bare.status_code == 307 and bare.headers["location"] == "ui/"
    page = await web_client.get("/ui/")
    assert page.status_code == 200
    assert '<script type="module" src="static/app.js">' in page.text
    # Only its own origin: no CDN, no inline script.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "http" not in policy
    script = await web_client.get("/ui/static/pages/overview.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await web_client.get("/ui/session")).json() == {"token_required": False}
    signed_in = await web_client.post("/ui/session", data={"token": "anything"})
    assert signed_in.status_code == 303 and "set-cookie" not in signed_in.headers


async def test_every_asset_is_in_the_package_and_names_no_other_host(
    web_client: httpx.AsyncClient,
) -> None:
    root = resources.files("jobrelay.web.ui") / "static"
    names = [f.name for f in root.iterdir() if f.is_file()]
    names += [f"pages/{f.name}" for f in (root / "pages").iterdir() if f.is_file()]
    assert {"index.html", "app.js", "style.css", "pages/job.js"} <= set(names)
    for name in names:
        if name.endswith(".html"):
            continue
        answer = await web_client.get(f"/ui/static/{name}")
        assert answer.status_code == 200, name
        # The one URL allowed is the SVG namespace, an identifier never fetched.
        text = answer.text.replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


async def test_the_schedules_page_is_in_the_nav_and_calls_routes_the_app_has(
    web_client: httpx.AsyncClient,
) -> None:
    page = await web_client.get("/ui/")
    assert '<a href="#/schedules" data-route="schedules">Schedules</a>' in page.text
    router = (await web_client.get("/ui/static/app.js")).text
    assert 'from "./pages/schedules.js"' in router
    script = await web_client.get("/ui/static/pages/schedules.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    # Every endpoint the page calls is one the API serves, with that method.
    paths = (await web_client.get("/openapi.json")).json()["paths"]
    calls = {
        ("/schedules", "get"),
        ("/schedules", "post"),
        ("/schedules/{schedule_id}", "get"),
        ("/schedules/{schedule_id}", "delete"),
        ("/schedules/{schedule_id}/pause", "post"),
        ("/schedules/{schedule_id}/resume", "post"),
        ("/schedules/{schedule_id}/trigger", "post"),
        ("/schedules/{schedule_id}/backfill", "post"),
        ("/job-types", "get"),
    }
    for route, method in calls:
        assert method in paths.get(route, {}), (route, method)
    for action in ("pause", "resume", "trigger", "backfill"):
        assert f'"{action}"' in script.text, action


async def test_the_schedules_script_needs_the_token(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/ui/static/pages/schedules.js")).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    answer = await guarded.get("/ui/static/pages/schedules.js", headers=bearer)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "path", ["/ui/static/nope.js", "/ui/static/..%2Fpages.py", "/ui/static/index.html"]
)
async def test_an_unknown_asset_is_a_404(web_client: httpx.AsyncClient, path: str) -> None:
    answer = await web_client.get(path)
    assert answer.status_code == 404
    assert answer.json()["detail"][0]["loc"] == ["path", "name"]


async def test_with_a_token_only_the_sign_in_form_is_open(guarded: httpx.AsyncClient) -> None:
    form = await guarded.get("/ui/")
    assert form.status_code == 401
    assert 'name="token"' in form.text and "app.js" not in form.text
    assert (await guarded.get("/ui/static/style.css")).status_code == 200
    assert (await guarded.get("/ui/static/favicon.svg")).status_code == 200
    assert (await guarded.get("/ui/static/app.js")).status_code == 401
    assert (await guarded.get("/ui/session")).status_code == 401
    # The bearer header opens the page as the cookie does.
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await guarded.get("/ui/", headers=bearer)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ("", 422, "Enter the API token."),
        ("token=", 422, "Enter the API token."),
        ("token=wrong", 401, "That is not the API token."),
        ("token=%3Cscript%3E", 401, "That is not the API token."),
        ("a=1&b=2&c=3&d=4&e=5&token=x", 422, "Enter the API token."),
        ("token=" + "x" * 5000, 422, "Enter the API token."),
    ],
)
async def test_a_refused_sign_in_says_why(
    guarded: httpx.AsyncClient, body: str, status: int, says: str
) -> None:
    answer = await guarded.post(
        "/ui/session",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == status
    assert says in answer.text
    assert "<script>" not in answer.text
    assert "set-cookie" not in answer.headers


async def test_a_sign_in_sets_a_strict_http_only_cookie_the_api_takes(
    guarded: httpx.AsyncClient,
) -> None:
    answer = await guarded.post("/ui/session", data={"token": TOKEN})
    assert answer.status_code == 303 and answer.headers["location"] == "./"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("jobrelay_session=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert f"max-age={SESSION_MAX_AGE_S}" in lowered
    value = cookie.split(";")[0].split("=", 1)[1]
    signed = {"Cookie": f"jobrelay_session={value}"}
    assert (await guarded.get("/queues", headers=signed)).status_code == 200
    assert (await guarded.get("/ui/", headers=signed)).status_code == 200
    assert (await guarded.get("/ui/session", headers=signed)).json() == {"token_required": True}

    out = await guarded.post("/ui/signout")
    assert out.status_code == 303
    assert 'jobrelay_session=""' in out.headers["set-cookie"] or "max-age=0" in (
        out.headers["set-cookie"].lower()
    )
