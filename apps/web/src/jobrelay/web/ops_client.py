"""The operator CLI's way to the web app: a blocking HTTP client with one-line errors.

It talks to a running web app (``JOBRELAY_URL``, the bearer token from
``JOBRELAY_API_TOKEN``); an unreachable server or any answer but a 2xx is an
:class:`OpsError` whose message is one line for a human.
"""

from __future__ import annotations

from typing import Any

import httpx


class OpsError(Exception):
    """Raised when the web app cannot be reached or refuses the request; one line for a human."""


class OpsClient:
    """A blocking client of the web app's operator routes."""

    def __init__(self, url: str, token: str | None, *, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> OpsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        json: Any = None,
    ) -> Any:
        """The JSON answer of ``method path``; :class:`OpsError` for anything but a 2xx.

        ``params`` go in the query string (those that are None are left out),
        ``json`` is the body.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=json)
        except httpx.HTTPError as exc:
            raise OpsError(f"cannot reach the web app at {self.url}: {exc}") from exc
        if response.status_code == 401:
            raise OpsError("401: missing or wrong token (set JOBRELAY_API_TOKEN)")
        if not response.is_success:
            raise OpsError(f"{response.status_code}: {_detail(response)}")
        return response.json() if response.content else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = first.get("loc") or []
        # Name the field at fault: a query field is the CLI option of that name.
        named = len(loc) >= 2 and loc[0] in ("query", "body")
        field = ".".join(str(part) for part in loc[1:]) + ": " if named else ""
        return f"{field}{first.get('msg', first)}"
    return str(detail)
