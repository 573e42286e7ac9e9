from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)

# The dashboard's sign-in (``POST /ui/session``) sets this cookie; it stands
# for the token without being it: ``<expires>.<HMAC-SHA256(token, expires)>``.
# Nothing is stored server-side, and changing the token ends every session.
SESSION_COOKIE = "jobrelay_session"
SESSION_MAX_AGE_S = 12 * 3600


def _session_mac(token: str, expires: int) -> str:
    return hmac.new(token.encode(), f"jobrelay-ui:{expires}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    """A dashboard session's cookie value for ``token``, valid ``SESSION_MAX_AGE_S``."""
    expires = int(time.time() if now is None else now) + SESSION_MAX_AGE_S
    return f"{expires}.{_session_mac(token, expires)}"


def session_valid(value: str, token: str, now: float | None = None) -> bool:
    """Whether ``value`` is an unexpired session cookie made for ``token``."""
    expires, _, mac = value.partition(".")
    # isascii: str.isdigit also accepts digits int() refuses ("²").
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return False
    if int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac.encode(), _session_mac(token, int(expires)).encode())


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison: the token guards job submission."""
    return hmac.compare_digest(given.encode(), expected.encode())


def authorized(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether the request carries the token (bearer) or a dashboard session (cookie)."""
    expected: str | None = request.app.state.api_token
    if expected is None:
        return True
    if credentials is not None and token_matches(credentials.credentials, expected):
        return True
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie is not None and session_valid(cookie, expected)


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check ``Authorization: Bearer`` against ``JOBRELAY_API_TOKEN`` when one is set.

    The dashboard's session cookie (see :data:`SESSION_COOKIE`) counts as the token too.
    """
    if not authorized(request, credentials):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
