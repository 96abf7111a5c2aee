"""A typed HTTP client for the ledger API (httpx).

Every receipt it returns has been verified offline against the caller's trust policy (unless
verify=False), so a compromised server cannot hand back a receipt that would not convince a
court. Problem responses come back as the ledger.errors exception with the same code.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from ledger.core.canonical import canonical_bytes
from ledger.core.envelope import Envelope, format_ts, sign_envelope
from ledger.core.keys import Signer
from ledger.core.note import Checkpoint, open_checkpoint, parse_checkpoint, parse_note
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import Receipt, receipt_from_json, verify_receipt
from ledger.core.request_auth import sign_request
from ledger.errors import ConfigError, LedgerError, Unreachable, error_from_problem


class LedgerClient:
    def __init__(
        self,
        base_url: str,
        org: str | None = None,
        key: Signer | None = None,
        policy: TrustPolicy | None = None,
        *,
        verify: bool = True,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if verify and policy is None:
            raise ConfigError("verifying receipts needs a trust policy (or pass verify=False)")
        self.org, self.key, self.policy, self.verify = org, key, policy, verify
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- transport -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise Unreachable(f"{method} {path}: {type(e).__name__}: {e}") from e
        if response.status_code >= 400:
            raise self._problem(response)
        return response

    @staticmethod
    def _problem(response: httpx.Response) -> LedgerError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"detail": f"HTTP {response.status_code}: {response.text[:200]}"}
        return error_from_problem(body, response.status_code)

    def _signed_get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        if self.org is None or self.key is None:
            raise ConfigError("member reads need the client's org and key")
        query = urlencode(params or {})
        headers = sign_request(
            self.key, self.org, "GET", path, query, b"", format_ts(datetime.now(UTC))
        )
        return self._request("GET", path + ("?" + query if query else ""), headers=headers)

    # --- writing -------------------------------------------------------------------------------

    def sign(self, type: str, body: dict[str, Any]) -> Envelope:
        if self.org is None or self.key is None:
            raise ConfigError("signing needs the client's org and key")
        return sign_envelope(self.key, type=type, org=self.org, body=body)

    def submit(self, type: str, body: dict[str, Any]) -> Receipt:
        """Sign, submit, wait for the commit and return the verified receipt."""
        return self.submit_envelope(self.sign(type, body))

    def submit_envelope(self, envelope: Envelope) -> Receipt:
        response = self._request(
            "POST",
            "/v1/entries",
            content=envelope.raw,
            headers={"content-type": "application/json"},
        )
        return self._checked(receipt_from_json(response.json()), envelope)

    def submit_batch(self, envelopes: list[Envelope]) -> list[Receipt | LedgerError]:
        """One result per envelope, in order: a verified receipt or the error refusing it."""
        body = canonical_bytes([e.as_dict() for e in envelopes])
        response = self._request(
            "POST", "/v1/entries/batch", content=body, headers={"content-type": "application/json"}
        )
        results: list[Receipt | LedgerError] = []
        for envelope, item in zip(envelopes, response.json()["items"], strict=True):
            if item.get("receipt"):
                results.append(self._checked(receipt_from_json(item["receipt"]), envelope))
            else:
                results.append(error_from_problem(item["problem"], item["status"]))
        return results

    def _checked(self, receipt: Receipt, envelope: Envelope | None = None) -> Receipt:
        if envelope is not None and receipt.entry != envelope.as_dict():
            raise LedgerError("the server's receipt is for a different entry than submitted")
        if self.verify:
            assert self.policy is not None
            verify_receipt(receipt, self.policy)
        return receipt

    # --- reading -------------------------------------------------------------------------------

    def get_receipt(self, tx_id: str, size: int | None = None) -> Receipt:
        params = {"size": size} if size else None
        response = self._request("GET", f"/v1/receipts/{tx_id}", params=params)
        return self._checked(receipt_from_json(response.json()))

    def get_checkpoint(self) -> tuple[Checkpoint, str]:
        """The latest checkpoint and its note text, the log signature checked when verifying."""
        note = self._request("GET", "/v1/checkpoint", headers={"accept": "text/plain"}).text
        if not self.verify:
            return parse_checkpoint(parse_note(note).text), note
        assert self.policy is not None
        log = self.policy.log.logs[0]
        return open_checkpoint(note, log)[1], note

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        body = self._request("GET", "/v1/proofs/inclusion", params={"index": index, "size": size})
        return [base64.b64decode(h) for h in body.json()["proof"]]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        params = {"first": first, "second": second}
        body = self._request("GET", "/v1/proofs/consistency", params=params)
        return [base64.b64decode(h) for h in body.json()["proof"]]

    def members(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/v1/members").json()
        return result

    def entries(self, after: int = -1, limit: int = 100) -> dict[str, Any]:
        """A page of raw entries (signed member read)."""
        result: dict[str, Any] = self._signed_get(
            "/v1/entries", {"after": after, "limit": limit}
        ).json()
        return result

    def block(self, height: int) -> dict[str, Any]:
        result: dict[str, Any] = self._signed_get(f"/v1/blocks/{height}").json()
        return result
