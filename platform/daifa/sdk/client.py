"""`daifa.Client`: the REST API from Python, for operators and parties.

Every POST carries an Idempotency-Key (a fresh UUID unless given), and a retried request reuses it, so a
retry after a network error or a 5xx never acts twice. Errors come back as the platform's own exceptions
(see daifa.sdk.errors). Lists are iterators that fetch the next page when needed.

    client = daifa.Client("http://127.0.0.1:8000", api_key="dk_...")
    for plan in client.list_plans():
        print(plan.id, plan.status)
"""

from __future__ import annotations

import functools
import ssl
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from daifa import wire as s
from daifa.content_types import sniff_content_type
from daifa.domain.limits import MAX_BATCH
from daifa.sdk.errors import from_problem, unreachable

M = TypeVar("M", bound=BaseModel)

FileArg = Path | str | tuple[str, bytes, str]
"""A file to upload: a path (its type is guessed from its first bytes by the platform's rules), or
(filename, bytes, content type)."""

RETRIED_STATUSES = {429, 500, 502, 503, 504}
LONGEST_RETRY_AFTER = 10.0  # seconds: a 429 or 503 asking for a longer wait is raised, not waited out


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client in the process: loading the CA bundle takes ~20 ms, and an
    operator's tools may hold a client per party."""
    return httpx.create_ssl_context()


class Client:
    """The platform's REST API, as an operator or a party.

    Args:
        base_url: where the API answers, e.g. "https://daifa.example.com".
        api_key: the caller's key (`dk_...`); None for the calls that need none (`apply`, `health`).
        timeout: seconds to wait for each answer.
        max_retries: how often a request is sent again after a network error, a 429 or a 5xx (POSTs keep
            their Idempotency-Key, so the platform acts once).
        backoff: seconds before the first retry, doubled each time (unless Retry-After says otherwise).
        page_size: items fetched per page by the `list_*` iterators.
        transport: an httpx transport, for tests (the ASGI app in process) or proxies.

    Raises (from every method): `daifa.InvalidInput` (422, with `problems`), `daifa.Unauthenticated`
    (401), `daifa.Forbidden` (403), `daifa.NotFound` (404), `daifa.Conflict` (409: the record's state does
    not allow it now), `daifa.RateLimited` (429, with `retry_after`), `daifa.Unavailable` (503, or no
    answer at all after the retries) and `daifa.ApiError` for anything else. Each is a
    `daifa.DaifaError` whose `problem` holds the API's RFC 9457 body.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        page_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "daifa-python"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport, verify=_tls_context()
        )
        self.max_retries = max_retries
        self.backoff = backoff
        self.page_size = page_size

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ plumbing

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: Sequence[FileArg] | None = None,
        file_field: str = "files",
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One API call, retried on network errors, 429 and 5xx with exponential backoff (or the wait a 429 or
        503 asks for in Retry-After, when it is at most LONGEST_RETRY_AFTER); the decoded JSON."""
        headers = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        multipart = [(file_field, _file(f)) for f in files] if files is not None else None
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(
                    method, path, json=json, data=data, files=multipart, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if attempt == self.max_retries:
                    raise unreachable(str(self._http.base_url), error) from error
            else:
                if response.status_code not in RETRIED_STATUSES or attempt == self.max_retries:
                    break
                asked = _retry_after(response)
                if asked is not None:
                    if asked > LONGEST_RETRY_AFTER:
                        break
                    time.sleep(asked)
                    continue
            time.sleep(self.backoff * 2**attempt)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            raise from_problem(response.status_code, body, _retry_after(response))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return model.model_validate(self.request("GET", path, params=params or None))

    def _post(self, model: type[M], path: str, *, idempotency_key: str | None = None, **kwargs: Any) -> M:
        return model.model_validate(self.request("POST", path, idempotency_key=idempotency_key, **kwargs))

    def _post_in_batches(self, model: type[M], path: str, field: str, items: Sequence[Any]) -> list[M]:
        """`items` posted as `{field: [...]}` to a batch endpoint, MAX_BATCH to a request, each request under
        its own idempotency key; what each answer's list holds, in order."""
        answered: list[M] = []
        for start in range(0, len(items), MAX_BATCH):
            body = {field: list(items[start : start + MAX_BATCH])}
            answered.extend(self._post(s.Page[model], path, json=body).data)  # type: ignore[valid-type]
        return answered

    def _list(self, model: type[M], path: str, **params: Any) -> Iterator[M]:
        query = {k: v for k, v in params.items() if v is not None}
        after: str | None = None
        while True:
            cursor = {"starting_after": after} if after else {}
            page = self.request("GET", path, params={**query, "limit": self.page_size, **cursor})
            for item in page["data"]:
                yield model.model_validate(item)
            if not page["has_more"] or not page["data"]:
                return
            after = page["data"][-1]["id"]

    # ------------------------------------------------------------------------------ parties

    def apply(self, address: str, legal_name: str, kind: str, files: Sequence[FileArg], **kw: Any) -> s.ApplicationOut:
        """Apply for an account (no API key needed). The answer's api_key is shown once: keep it."""
        data = {"address": address, "legal_name": legal_name, "kind": kind}
        return self._post(s.ApplicationOut, "/v1/parties", data=data, files=files, **kw)

    def list_parties(self) -> Iterator[s.PartyOut]:
        return self._list(s.PartyOut, "/v1/parties")

    def get_party(self, party_id: str) -> s.PartyOut:
        return self._get(s.PartyOut, f"/v1/parties/{party_id}")

    def add_party_documents(self, party_id: str, files: Sequence[FileArg], **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/documents", files=files, **kw)

    def request_party_documents(self, party_id: str, reason: str, **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/request_documents", json={"reason": reason}, **kw)

    def approve_party(self, party_id: str, comment: str = "", **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/approve", json={"comment": comment}, **kw)

    def reject_party(self, party_id: str, reason: str, **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/reject", json={"reason": reason}, **kw)

    def suspend_party(self, party_id: str, **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/suspend", **kw)

    def reinstate_party(self, party_id: str, **kw: Any) -> s.PartyOut:
        return self._post(s.PartyOut, f"/v1/parties/{party_id}/reinstate", **kw)

    # ------------------------------------------------------------------------------ products

    def apply_for_product(
        self,
        payer: str,
        business_name: str,
        limit: int,
        tokens: Sequence[str],
        expiry: int,
        files: Sequence[FileArg],
        **kw: Any,
    ) -> s.ProductOut:
        data = {
            "payer": payer,
            "business_name": business_name,
            "limit": str(limit),
            "tokens": list(tokens),
            "expiry": str(expiry),
        }
        return self._post(s.ProductOut, "/v1/products", data=data, files=files, **kw)

    def list_products(self) -> Iterator[s.ProductOut]:
        return self._list(s.ProductOut, "/v1/products")

    def get_product(self, product_id: str) -> s.ProductOut:
        return self._get(s.ProductOut, f"/v1/products/{product_id}")

    def add_product_documents(self, product_id: str, files: Sequence[FileArg], **kw: Any) -> s.ProductOut:
        return self._post(s.ProductOut, f"/v1/products/{product_id}/documents", files=files, **kw)

    def request_product_documents(self, product_id: str, reason: str, **kw: Any) -> s.ProductOut:
        return self._post(s.ProductOut, f"/v1/products/{product_id}/request_documents", json={"reason": reason}, **kw)

    def approve_product(self, product_id: str, comment: str = "", **kw: Any) -> s.ProductOut:
        return self._post(s.ProductOut, f"/v1/products/{product_id}/approve", json={"comment": comment}, **kw)

    def reject_product(self, product_id: str, reason: str, **kw: Any) -> s.ProductOut:
        return self._post(s.ProductOut, f"/v1/products/{product_id}/reject", json={"reason": reason}, **kw)

    def authorise_credit(self, product_id: str, limit: int | None = None, **kw: Any) -> s.ProductOut:
        body = {} if limit is None else {"limit": str(limit)}
        return self._post(s.ProductOut, f"/v1/products/{product_id}/authorise_credit", json=body, **kw)

    def authorise_credit_many(self, product_ids: Sequence[str]) -> list[s.ProductOut]:
        """Authorises the credit of many products at the limits their payees asked for, 100 to a request:
        each batch all at once or, with every refusal listed, not at all."""
        return self._post_in_batches(s.ProductOut, "/v1/products/authorise_credit", "products", product_ids)

    def decline_credit(self, product_id: str, reason: str, **kw: Any) -> s.ProductOut:
        return self._post(s.ProductOut, f"/v1/products/{product_id}/decline_credit", json={"reason": reason}, **kw)

    # ------------------------------------------------------------------------------ plans

    def request_plan(self, plan: s.PlanIn | dict[str, Any], **kw: Any) -> s.PlanOut:
        body = plan.model_dump(mode="json", exclude_none=True) if isinstance(plan, BaseModel) else plan
        return self._post(s.PlanOut, "/v1/plans", json=body, **kw)

    def list_plans(self, product: str | None = None) -> Iterator[s.PlanOut]:
        return self._list(s.PlanOut, "/v1/plans", product=product)

    def get_plan(self, plan_id: str) -> s.PlanOut:
        return self._get(s.PlanOut, f"/v1/plans/{plan_id}")

    def reject_plan(self, plan_id: str, reason: str, **kw: Any) -> s.PlanOut:
        return self._post(s.PlanOut, f"/v1/plans/{plan_id}/reject", json={"reason": reason}, **kw)

    def withdraw_plan(self, plan_id: str, **kw: Any) -> s.PlanOut:
        return self._post(s.PlanOut, f"/v1/plans/{plan_id}/withdraw", **kw)

    def deposit(self, plan_id: str, indices: Sequence[int], method: str = "auto", **kw: Any) -> s.ActionOut:
        """Fund instalments: `permit` (sign, the platform relays), `wallet` (send the returned transactions)
        or `auto` (permit where the token and the wallet allow it)."""
        body = {"indices": list(indices), "method": method}
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/deposits", json=body, **kw)

    def approve_release(self, plan_id: str, index: int, **kw: Any) -> s.ActionOut:
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/instalments/{index}/approve", **kw)

    def submit_materials(self, plan_id: str, index: int, files: Sequence[FileArg], **kw: Any) -> s.ActionOut:
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/instalments/{index}/materials", files=files, **kw)

    def attest_materials(self, plan_id: str, index: int, **kw: Any) -> s.ActionOut:
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/instalments/{index}/attest", **kw)

    def dispute(self, plan_id: str, index: int, reason: str, files: Sequence[FileArg] = (), **kw: Any) -> s.ActionOut:
        path = f"/v1/plans/{plan_id}/instalments/{index}/disputes"
        return self._post(s.ActionOut, path, data={"reason": reason}, files=list(files), **kw)

    def cancel(self, plan_id: str, indices: Sequence[int], **kw: Any) -> s.ActionOut:
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/cancellations", json={"indices": list(indices)}, **kw)

    # ------------------------------------------------------------------------------ payroll runs

    def submit_payroll(
        self,
        file: FileArg,
        time_zone: str = "UTC",
        release_time: str = "09:00",
        funding: str = "after_recording",
        **kw: Any,
    ) -> s.PayrollRunOut:
        """The payer's plans from one file (CSV with a header line, or JSON lines): refused whole, every
        refused row's line, field and reason in the InvalidInput's `problems`, or asked for at once. With
        `funding="at_recording"` the payer's wallet records and funds the signed plans
        (`payroll_funding`)."""
        data = {"time_zone": time_zone, "release_time": release_time, "funding": funding}
        return self._post(s.PayrollRunOut, "/v1/payroll_runs", data=data, files=[file], file_field="file", **kw)

    def list_payroll_runs(self) -> Iterator[s.PayrollRunOut]:
        return self._list(s.PayrollRunOut, "/v1/payroll_runs")

    def get_payroll_run(self, run_id: str) -> s.PayrollRunOut:
        return self._get(s.PayrollRunOut, f"/v1/payroll_runs/{run_id}")

    def payroll_funding(self, run_id: str) -> s.RunFundingOut:
        """The transactions the payer's wallet sends to record and fund the run's signed plans."""
        return self._get(s.RunFundingOut, f"/v1/payroll_runs/{run_id}/funding")

    def amend(self, plan_id: str, instalments: Sequence[s.InstalmentIn | dict[str, Any]], **kw: Any) -> s.ActionOut:
        """Proposes the plan's instalments as they should be (all of them; touched ones unchanged). Both
        parties then sign the amendment's signature requests."""
        body = [i.model_dump(mode="json") if isinstance(i, BaseModel) else i for i in instalments]
        return self._post(s.ActionOut, f"/v1/plans/{plan_id}/amendments", json={"instalments": body}, **kw)

    # ------------------------------------------------------------------------------ actions

    def list_actions(self, plan: str | None = None) -> Iterator[s.ActionOut]:
        return self._list(s.ActionOut, "/v1/actions", plan=plan)

    def get_action(self, action_id: str) -> s.ActionOut:
        return self._get(s.ActionOut, f"/v1/actions/{action_id}")

    def resolve_dispute(self, action_id: str, to_payee: int, note: str = "", **kw: Any) -> s.ActionOut:
        body = {"to_payee": str(to_payee), "note": note}
        return self._post(s.ActionOut, f"/v1/actions/{action_id}/resolve", json=body, **kw)

    # ------------------------------------------------------------------------------ signatures

    def list_signature_requests(self, status: str | None = "pending") -> Iterator[s.SignatureRequestOut]:
        return self._list(s.SignatureRequestOut, "/v1/signature_requests", status=status)

    def get_signature_request(self, request_id: str) -> s.SignatureRequestOut:
        return self._get(s.SignatureRequestOut, f"/v1/signature_requests/{request_id}")

    def sign(self, request_id: str, signature: str, **kw: Any) -> s.SignatureRequestOut:
        """Posts the signature the party's wallet made over the request's typed data."""
        return self._post(
            s.SignatureRequestOut, f"/v1/signature_requests/{request_id}/sign", json={"signature": signature}, **kw
        )

    def sign_many(self, signed: Sequence[tuple[str, str]]) -> list[s.SignatureRequestOut]:
        """Posts (request id, signature) pairs in batches of 100, each under its own idempotency key: a
        batch is stored whole or refused with every wrong signature listed (InvalidInput, whose problems
        name `signatures[i]` within that batch)."""
        items = [{"request": request_id, "signature": signature} for request_id, signature in signed]
        return self._post_in_batches(s.SignatureRequestOut, "/v1/signature_requests/signatures", "signatures", items)

    # ------------------------------------------------------------------------------ documents, events

    def get_document(self, document_id: str) -> s.DocumentOut:
        return self._get(s.DocumentOut, f"/v1/documents/{document_id}")

    def download_document(self, document_id: str) -> bytes:
        return bytes(self.request("GET", f"/v1/documents/{document_id}/content"))

    def verify_document(self, document_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/documents/{document_id}/verification"))

    def list_events(self, type: str | None = None) -> Iterator[s.EventOut]:
        return self._list(s.EventOut, "/v1/events", type=type)

    def get_event(self, event_id: str) -> s.EventOut:
        return self._get(s.EventOut, f"/v1/events/{event_id}")

    def create_webhook_endpoint(self, url: str, **kw: Any) -> s.WebhookEndpointOut:
        return self._post(s.WebhookEndpointOut, "/v1/webhook_endpoints", json={"url": url}, **kw)

    def list_webhook_endpoints(self) -> Iterator[s.WebhookEndpointOut]:
        return self._list(s.WebhookEndpointOut, "/v1/webhook_endpoints")

    def disable_webhook_endpoint(self, endpoint_id: str, **kw: Any) -> s.WebhookEndpointOut:
        return self._post(s.WebhookEndpointOut, f"/v1/webhook_endpoints/{endpoint_id}/disable", **kw)

    def enable_webhook_endpoint(self, endpoint_id: str, **kw: Any) -> s.WebhookEndpointOut:
        """Enable an endpoint again (one the platform disabled after repeated failures, once it is fixed)."""
        return self._post(s.WebhookEndpointOut, f"/v1/webhook_endpoints/{endpoint_id}/enable", **kw)

    # ------------------------------------------------------------------------------ API keys

    def list_api_keys(self, party: str | None = None) -> list[s.ApiKeyOut]:
        """The caller's keys (a party), or every key or one party's (the operator); newest first."""
        page = self.request("GET", "/v1/api_keys", params={"party": party} if party else None)
        return [s.ApiKeyOut.model_validate(item) for item in page["data"]]

    def create_api_key(self, party: str | None = None, label: str | None = None, **kw: Any) -> s.ApiKeyOut:
        """A new key; its `secret` is in the answer, once. The operator may name a party, or none for an
        operator key."""
        return self._post(s.ApiKeyOut, "/v1/api_keys", json={"party": party, "label": label}, **kw)

    def roll_api_key(self, key_id: str, expires_in: int = 0, **kw: Any) -> s.ApiKeyOut:
        """A new key in place of `key_id`, which keeps working `expires_in` seconds (at most a week)."""
        return self._post(s.ApiKeyOut, f"/v1/api_keys/{key_id}/roll", json={"expires_in": expires_in}, **kw)

    def revoke_api_key(self, key_id: str, **kw: Any) -> s.ApiKeyOut:
        return self._post(s.ApiKeyOut, f"/v1/api_keys/{key_id}/revoke", **kw)

    # ------------------------------------------------------------------------------ operations

    def health(self) -> s.HealthOut:
        """The platform's health: `status` ok, or degraded with its `reasons` (a degraded platform answers
        503 with the same body, which is returned here, not raised)."""
        try:
            response = self._http.get("/v1/health")
        except httpx.TransportError as error:
            raise unreachable(str(self._http.base_url), error) from error
        if response.status_code in (200, 503):
            return s.HealthOut.model_validate(response.json())
        raise from_problem(response.status_code, response.json() if response.content else {})

    def list_transactions(self) -> Iterator[s.TransactionOut]:
        return self._list(s.TransactionOut, "/v1/transactions")

    def get_transaction(self, transaction_id: str) -> s.TransactionOut:
        return self._get(s.TransactionOut, f"/v1/transactions/{transaction_id}")

    def reconciliation(self) -> s.ReconciliationOut:
        return self._get(s.ReconciliationOut, "/v1/reconciliation")


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a 429 or 503 asks the caller to wait (Retry-After), if it says."""
    value = response.headers.get("retry-after", "")
    return float(value) if response.status_code in (429, 503) and value.isdigit() else None


def _file(arg: FileArg) -> tuple[str, bytes, str]:
    if isinstance(arg, tuple):
        return arg
    path = Path(arg)
    data = path.read_bytes()
    return (path.name, data, _content_type(data))


def _content_type(data: bytes) -> str:
    return sniff_content_type(data) or "application/octet-stream"
