"""The dashboard's routes: the page and its assets, and the sign-in.

The page is static: its scripts read the JSON API with the session cookie
(same origin). Only the sign-in page and the stylesheet are served without
the token; they hold no data.
"""

from __future__ import annotations

import html
import re
from importlib import resources
from string import Template
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    authorized,
    require_token,
    session_cookie,
    token_matches,
)

router = APIRouter(include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Without the token: nothing in these tells anything about the jobs.
_PUBLIC = frozenset({"style.css", "favicon.svg"})
_ASSET_NAME = re.compile(r"^(pages/)?[a-z0-9_-]+\.(js|css|svg)$")

# Everything the page loads comes from here, and the scripts only talk to the
# API: the policy makes a stray CDN link or an injected script fail loudly.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MAX_FORM_BYTES = 4096


def _load() -> dict[str, bytes]:
    # Read once at import (a few kilobytes): no file I/O on the event loop later.
    root = resources.files(__package__) / "static"
    out: dict[str, bytes] = {}
    for entry in root.iterdir():
        if entry.is_file():
            out[entry.name] = entry.read_bytes()
    for entry in (root / "pages").iterdir():
        if entry.is_file():
            out[f"pages/{entry.name}"] = entry.read_bytes()
    return out


_ASSETS = _load()
_SIGN_IN = Template(_ASSETS["signin.html"].decode())


def _answer(body: bytes, suffix: str, status_code: int = 200) -> Response:
    return Response(body, status_code, headers=_HEADERS, media_type=_TYPES[suffix])


def _sign_in_page(request: Request, error: str = "", status_code: int = 401) -> Response:
    note = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = _SIGN_IN.substitute(error=note).encode()
    return _answer(body, ".html", status_code)


def _cookie_path(request: Request) -> str:
    # The API sits at the app's root, behind whatever prefix a proxy adds.
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/") + "/"


@router.get("/ui")
async def ui_bare() -> RedirectResponse:
    """``/ui`` -> ``/ui/``: the page's links are relative to its folder."""
    # Relative Location: right behind a proxy that mounts the app under a prefix.
    return RedirectResponse("ui/", status_code=307)


@router.get("/ui/")
async def ui_page(request: Request, credentials: Credentials) -> Response:
    """The dashboard, or the sign-in form while the request has neither token nor session."""
    if not authorized(request, credentials):
        return _sign_in_page(request)
    return _answer(_ASSETS["index.html"], ".html")


@router.get("/ui/static/{name:path}")
async def ui_asset(name: str, request: Request, credentials: Credentials) -> Response:
    """A script, stylesheet or icon shipped in the package."""
    if not _ASSET_NAME.match(name) or name not in _ASSETS:
        raise HTTPException(
            404, detail=[{"loc": ["path", "name"], "msg": "no such asset", "type": "not_found"}]
        )
    if name not in _PUBLIC and not authorized(request, credentials):
        raise HTTPException(401, detail="sign in first", headers={"WWW-Authenticate": "Bearer"})
    return _answer(_ASSETS[name], "." + name.rsplit(".", 1)[1])


@router.post("/ui/session")
async def sign_in(request: Request) -> Response:
    """Check the form's ``token``; on a match set the session cookie and go to the page."""
    expected: str | None = request.app.state.api_token
    if expected is None:
        return RedirectResponse("./", status_code=303)
    body = await request.body()
    given = ""
    if len(body) <= _MAX_FORM_BYTES:
        try:
            form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
        except ValueError:  # more fields than a sign-in form has
            form = {}
        given = form.get("token", [""])[0]
    if not given:
        return _sign_in_page(request, "Enter the API token.", 422)
    if not token_matches(given, expected):
        return _sign_in_page(request, "That is not the API token.")
    answer = RedirectResponse("./", status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        session_cookie(expected),
        max_age=SESSION_MAX_AGE_S,
        path=_cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@router.post("/ui/signout")
async def sign_out(request: Request) -> Response:
    """Drop the session cookie and go back to the sign-in form."""
    answer = RedirectResponse("./", status_code=303)
    answer.delete_cookie(
        SESSION_COOKIE,
        path=_cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@router.get("/ui/session", dependencies=[Depends(require_token)])
async def session(request: Request) -> dict[str, bool]:
    """Whether this server wants a token (the page shows "sign out" then)."""
    return {"token_required": request.app.state.api_token is not None}
