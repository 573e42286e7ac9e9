"""Dispatch over HTTP through the web app, for producers without Redis access.

Active only when both ``USE_DISPATCH_PROXY=true`` and ``DISPATCH_PROXY_URL``
are set. The web app answers:

- ``POST {url}/jobs`` with ``{"name", "payload", "job_id", "delay", "confirm"}``
  -> a :class:`DispatchReceipt`;
- ``GET {url}/jobs/{job_id}`` -> a :class:`JobStatus`;
- ``POST {url}/jobs/{job_id}/cancel`` -> ``{"cancelled": bool}``;

each with ``Authorization: Bearer $JOBRELAY_API_TOKEN``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pydantic_core
from jobrelay.job_engine import InvalidPayload, UnknownJob, get_job
from pydantic import BaseModel

from .errors import (
    DispatchProxyError,
    DispatchUnavailable,
    JobNotFound,
    PayloadTooLarge,
    StatusUnavailable,
)
from .models import Confirm, DispatchReceipt, JobStatus, delay_seconds


class DispatchProxy:
    """The three dispatcher calls, made over HTTP against the web app."""

    def __init__(
        self, base_url: str, *, token: str | None, timeout_s: float = 10.0, max_payload_bytes: int
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_s
        self._max_payload_bytes = max_payload_bytes
        # httpx clients belong to the event loop that first used them.
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    async def dispatch(
        self,
        name: str,
        payload: Any,
        *,
        job_id: str | None = None,
        delay: timedelta | float | None = None,
        confirm: Confirm = "admission",
    ) -> DispatchReceipt:
        """POST the job; errors map to the same types a direct dispatch raises."""
        delay_s = delay_seconds(delay)
        data = _validated(name, payload)
        size = len(pydantic_core.to_json(data))
        if size > self._max_payload_bytes:
            raise PayloadTooLarge(name, size, self._max_payload_bytes)
        body = {
            "name": name,
            "payload": data,
            "job_id": job_id,
            "delay": delay_s,
            "confirm": confirm,
        }
        try:
            response = await self._client().post("/jobs", json=body)
        except httpx.TransportError as exc:
            raise DispatchUnavailable(
                job_id or "", reason="proxy_unreachable", dramatiq_cause=exc, temporal_cause=exc
            ) from exc
        if response.status_code in (200, 201, 202):
            return DispatchReceipt.model_validate_json(response.content)
        detail = _detail(response)
        if response.status_code == 503:
            raise DispatchUnavailable(
                job_id or "",
                reason="proxy_unavailable",
                dramatiq_cause=str(detail),
                temporal_cause=str(detail),
                retry_after_s=_retry_after(response),
            )
        if response.status_code == 404:
            raise UnknownJob(name, [])
        if response.status_code == 413:
            raise PayloadTooLarge(name, size, self._max_payload_bytes)
        if response.status_code == 422:
            errors = detail if isinstance(detail, list) else [{"loc": (), "msg": str(detail)}]
            raise InvalidPayload(name, errors)
        raise DispatchProxyError(response.status_code, str(detail))

    async def get_status(self, job_id: str) -> JobStatus:
        """GET the job's status."""
        response = await self._call(job_id, "GET", f"/jobs/{job_id}")
        return JobStatus.model_validate_json(response.content)

    async def cancel(self, job_id: str) -> bool:
        """POST a cancel request; False when the job had already finished."""
        response = await self._call(job_id, "POST", f"/jobs/{job_id}/cancel")
        return bool(response.json().get("cancelled"))

    async def aclose(self) -> None:
        """Close the client of the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def _call(self, job_id: str, method: str, path: str) -> httpx.Response:
        try:
            response = await self._client().request(method, path)
        except httpx.TransportError as exc:
            raise StatusUnavailable(job_id, redis_cause=exc, temporal_cause=exc) from exc
        if response.is_success:
            return response
        detail = str(_detail(response))
        if response.status_code == 404:
            raise JobNotFound(job_id)
        if response.status_code == 503:
            raise StatusUnavailable(job_id, redis_cause=detail, temporal_cause=detail)
        raise DispatchProxyError(response.status_code, detail)

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self.base_url, headers=self._headers, timeout=self._timeout
            )
            self._clients[loop] = client
        return client


def _validated(name: str, payload: Any) -> Any:
    # Validate here when this process knows the job, so a bad payload fails
    # before any network call; otherwise the web app validates it.
    try:
        definition = get_job(name)
    except UnknownJob:
        return payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return definition.dump_payload(payload)


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return body.get("detail", body) if isinstance(body, dict) else body


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "5"))
    except ValueError:
        return 5.0
