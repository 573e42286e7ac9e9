"""Dispatch over HTTP through the web app, for producers without Redis access.

Active only when both ``USE_DISPATCH_PROXY=true`` and ``DISPATCH_PROXY_URL``
are set. The web app answers:

- ``POST {url}/jobs`` with ``{"name", "payload", "job_id", "delay", "confirm"}``
  -> a :class:`DispatchReceipt`;
- ``GET {url}/jobs/{job_id}`` -> a :class:`JobDetail` (a :class:`JobStatus` and more);
- ``POST {url}/jobs/{job_id}/cancel`` -> ``{"cancelled": bool}``;
- ``POST {url}/jobs/batch`` with ``{"jobs": [...]}`` -> one result per item;

each with ``Authorization: Bearer $JOBRELAY_API_TOKEN``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import httpx
import pydantic
import pydantic_core
from jobrelay.job_engine import InvalidPayload, JobrelayError, UnknownJob, get_job
from pydantic import BaseModel

from .errors import (
    DispatchProxyError,
    DispatchUnavailable,
    InvalidDispatch,
    JobNotFound,
    PayloadTooLarge,
    StatusUnavailable,
)
from .models import (
    BatchResult,
    Confirm,
    DispatchReceipt,
    JobDetail,
    JobRequest,
    JobStatus,
    delay_seconds,
)


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
        priority: str | int | None = None,
    ) -> DispatchReceipt:
        """POST the job; errors map to the same types a direct dispatch raises."""
        body = self._body(name, payload, job_id, delay)
        body["confirm"] = confirm
        if priority is not None:
            body["priority"] = priority
        size = len(pydantic_core.to_json(body["payload"]))
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

    async def dispatch_many(
        self, jobs: Iterable[JobRequest | Mapping[str, Any]]
    ) -> list[BatchResult]:
        """POST the batch; each item's error is the type a direct dispatch gives it.

        Items without a ``job_id`` get one here, so a batch whose answer was
        lost (each item then carries :class:`DispatchUnavailable`) can be
        sent again without running any job twice.
        """
        results: dict[int, BatchResult] = {}
        sent: list[tuple[int, JobRequest, dict[str, Any]]] = []
        for index, raw in enumerate(jobs):
            try:
                request = raw if isinstance(raw, JobRequest) else JobRequest.model_validate(raw)
                request = request.model_copy(update={"job_id": request.job_id or uuid.uuid4().hex})
                body = self._body(request.name, request.payload, request.job_id, request.delay)
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                error = InvalidDispatch(("jobs", index, *first["loc"]), first["msg"])
                results[index] = BatchResult(index, error=error)
                continue
            except JobrelayError as exc:
                results[index] = BatchResult(index, error=exc)
                continue
            body.pop("confirm")
            if request.priority is not None:
                body["priority"] = request.priority
            sent.append((index, request, body))
        if sent:
            await self._send_batch(sent, results)
        return [results[index] for index in sorted(results)]

    async def _send_batch(
        self,
        sent: list[tuple[int, JobRequest, dict[str, Any]]],
        results: dict[int, BatchResult],
    ) -> None:
        try:
            response = await self._client().post(
                "/jobs/batch", json={"jobs": [body for _, _, body in sent]}
            )
        except httpx.TransportError as exc:
            for index, request, _ in sent:
                lost = DispatchUnavailable(
                    request.job_id or "",
                    reason="proxy_unreachable",
                    dramatiq_cause=exc,
                    temporal_cause=exc,
                )
                results[index] = BatchResult(index, error=lost)
            return
        if not response.is_success:
            detail = _detail(response)
            if response.status_code == 422:
                raise InvalidDispatch("jobs", str(detail))
            raise DispatchProxyError(response.status_code, str(detail))
        answers = response.json()["results"]
        for (index, request, body), answer in zip(sent, answers, strict=True):
            if answer.get("receipt") is not None:
                receipt = DispatchReceipt.model_validate(answer["receipt"])
                results[index] = BatchResult(index, receipt=receipt)
            else:
                error = _item_error(request, body, answer["error"], self._max_payload_bytes)
                results[index] = BatchResult(index, error=error)

    async def get_status(self, job_id: str) -> JobStatus:
        """GET the job's status."""
        response = await self._call(job_id, "GET", f"/jobs/{job_id}")
        return JobStatus.model_validate_json(response.content)

    async def get_detail(self, job_id: str) -> JobDetail:
        """GET the job's detail: its status, payload, attempts, steps and Temporal run."""
        response = await self._call(job_id, "GET", f"/jobs/{job_id}")
        return JobDetail.model_validate_json(response.content)

    async def cancel(self, job_id: str) -> bool:
        """POST a cancel request; False when the job had already finished."""
        response = await self._call(job_id, "POST", f"/jobs/{job_id}/cancel")
        return bool(response.json().get("cancelled"))

    def _body(
        self, name: str, payload: Any, job_id: str | None, delay: timedelta | float | None
    ) -> dict[str, Any]:
        """The request body of one dispatch, checked here as far as this process can."""
        delay_s = delay_seconds(delay)
        data = _validated(name, payload)
        size = len(pydantic_core.to_json(data))
        if size > self._max_payload_bytes:
            raise PayloadTooLarge(name, size, self._max_payload_bytes)
        return {"name": name, "payload": data, "job_id": job_id, "delay": delay_s, "confirm": None}

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


def _item_error(
    request: JobRequest, body: dict[str, Any], problem: dict[str, Any], max_payload_bytes: int
) -> JobrelayError:
    """The typed error of a batch item the web app refused (see ``jobrelay.web.problems``)."""
    kind, detail = problem.get("type"), problem.get("detail")
    name, job_id = request.name, request.job_id or ""
    if kind == "unknown_job":
        return UnknownJob(name, [])
    if kind == "too_large":
        size = len(pydantic_core.to_json(body["payload"]))
        return PayloadTooLarge(name, size, max_payload_bytes)
    if kind in ("invalid_payload", "invalid_dispatch") and isinstance(detail, list) and detail:
        # Locations come as ["body", "jobs", i, field...]: keep what follows the item.
        if kind == "invalid_payload":
            errors = [{**e, "loc": tuple(e.get("loc", ())[4:])} for e in detail]
            return InvalidPayload(name, errors)
        return InvalidDispatch(tuple(detail[0].get("loc", ())[1:]), str(detail[0].get("msg", "")))
    return DispatchUnavailable(
        job_id, reason="proxy_unavailable", dramatiq_cause=str(detail), temporal_cause=str(detail)
    )
