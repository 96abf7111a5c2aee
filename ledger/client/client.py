"""A typed HTTP client for the ledger API (httpx).

Every receipt it returns has been verified offline against the caller's trust policy (unless
verify=False), so a compromised server cannot hand back a receipt that would not convince a
court. Problem responses come back as the ledger.errors exception with the same code; no answer,
or an answer that is not a Sealchain one (an HTML error page, JSON that is not a receipt, text
that is not a checkpoint: the URL names something else), raises Unreachable. A VerificationError
therefore always means that the client's own offline check failed.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from ledger.core import merkle
from ledger.core.canonical import canonical_bytes
from ledger.core.envelope import Envelope, envelope_from_dict, format_ts, sign_envelope
from ledger.core.keys import Signer
from ledger.core.note import Checkpoint, parse_checkpoint, parse_note
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import (
    FINAL_HEADER,
    Receipt,
    ReceiptVerification,
    receipt_from_json,
    verify_log_signature,
    verify_receipt,
    witness_cosigners,
)
from ledger.core.request_auth import sign_request
from ledger.errors import (
    ConfigError,
    LedgerError,
    NoteError,
    ProofError,
    ReceiptInvalid,
    Unreachable,
    error_from_problem,
)


def check_receipt(
    receipt: Receipt, policy: TrustPolicy, envelope: Envelope | None = None
) -> ReceiptVerification:
    """Verify a receipt the server answered with, offline; raises ReceiptInvalid.

    With `envelope`, the receipt must also be for that very entry (the one just submitted).
    """
    if envelope is not None and receipt.entry != envelope.as_dict():
        raise ReceiptInvalid(1, "the receipt is for another entry than the one submitted")
    return verify_receipt(receipt, policy)


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
        final_wait: float = 30.0,
    ) -> None:
        """`final_wait`: when the policy asks for witnesses' cosignatures, how long to wait
        for the final receipt of an entry just committed (the commit answers before the
        witnesses have cosigned); past it the receipt fails step (4), not final."""
        if verify and policy is None:
            raise ConfigError("verifying receipts needs a trust policy (or pass verify=False)")
        self.org, self.key, self.policy, self.verify = org, key, policy, verify
        self.final_wait = final_wait
        try:
            self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        except httpx.InvalidURL as e:
            raise ConfigError(f"{base_url!r} is not a URL: {e}") from e

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
            where = str(self.http.base_url).rstrip("/") + path
            raise Unreachable(f"{method} {where}: no answer ({type(e).__name__}: {e})") from e
        if response.status_code >= 400:
            raise self._problem(response)
        return response

    def _problem(self, response: httpx.Response) -> LedgerError:
        """The refusal a problem document describes; a server that answers an error without
        one (a web server's HTML page, a proxy's 502) is not the ledger: Unreachable."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            why = f"HTTP {response.status_code} {kind} without a problem document"
            return self._foreign(response, why)
        return error_from_problem(body, response.status_code)

    def _foreign(self, response: httpx.Response, why: str) -> Unreachable:
        request = response.request
        return Unreachable(
            f"{request.method} {request.url}: not a Sealchain ledger's answer ({why}); "
            "is the URL right?"
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as e:
            raise self._foreign(response, "not JSON") from e

    def _receipt(self, response: httpx.Response, value: Any) -> Receipt:
        try:
            return receipt_from_json(value)
        except ReceiptInvalid as e:
            raise self._foreign(response, e.detail) from e

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
        return self._checked(self._receipt(response, self._json(response)), envelope)

    def submit_batch(self, envelopes: list[Envelope]) -> list[Receipt | LedgerError]:
        """One result per envelope, in order: a verified receipt or the error refusing it."""
        body = canonical_bytes([e.as_dict() for e in envelopes])
        response = self._request(
            "POST", "/v1/entries/batch", content=body, headers={"content-type": "application/json"}
        )
        answer = self._json(response)
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(envelopes):
            raise self._foreign(response, "no item list, one per envelope")
        results: list[Receipt | LedgerError] = []
        deadline = time.monotonic() + self.final_wait  # one wait for the whole batch
        for envelope, item in zip(envelopes, items, strict=True):
            if not isinstance(item, dict):
                raise self._foreign(response, "an item is not an object")
            if item.get("receipt"):
                receipt = self._receipt(response, item["receipt"])
                results.append(self._checked(receipt, envelope, deadline))
            elif isinstance(item.get("problem"), dict) and isinstance(item.get("status"), int):
                results.append(error_from_problem(item["problem"], item["status"]))
            else:
                raise self._foreign(response, "an item has neither a receipt nor a problem")
        return results

    def _checked(
        self, receipt: Receipt, envelope: Envelope | None = None, deadline: float | None = None
    ) -> Receipt:
        """With verify=False the receipt is returned unchecked: see check_receipt. A receipt
        that passes every step but (4), the quorum, is asked for again until the witnesses
        have cosigned (`final_wait`)."""
        if not self.verify:
            return receipt
        assert self.policy is not None
        try:
            check_receipt(receipt, self.policy, envelope)
            return receipt
        except ReceiptInvalid as e:
            if e.step != 4 or self.final_wait <= 0:
                raise
            not_final = e
        tx_id = envelope.tx_id if envelope else envelope_from_dict(receipt.entry).tx_id
        deadline = deadline or time.monotonic() + self.final_wait
        pause = 0.02
        while time.monotonic() < deadline:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)
            response = self._request("GET", f"/v1/receipts/{tx_id}")
            if response.headers.get(FINAL_HEADER) == "false":
                continue
            later = self._receipt(response, self._json(response))
            try:
                check_receipt(later, self.policy, envelope)
            except ReceiptInvalid as e:
                if e.step != 4:
                    raise
                not_final = e
                continue
            return later
        raise ReceiptInvalid(4, f"not final after {self.final_wait:g} s: {not_final.detail}")

    # --- reading -------------------------------------------------------------------------------

    def get_receipt(self, tx_id: str, size: int | None = None) -> Receipt:
        params = {"size": size} if size else None
        response = self._request("GET", f"/v1/receipts/{tx_id}", params=params)
        receipt = self._receipt(response, self._json(response))
        if size is None:
            return self._checked(receipt)
        if self.verify:  # a receipt against a chosen checkpoint is what it is: no waiting
            assert self.policy is not None
            check_receipt(receipt, self.policy)
        return receipt

    def get_checkpoint(self) -> tuple[Checkpoint, str]:
        """The latest checkpoint and its note text. When verifying, a key the policy lists for
        the checkpoint's origin must have signed it (any of them: logs rotate keys); raises
        NoteError if none did."""
        response = self._request("GET", "/v1/checkpoint", headers={"accept": "text/plain"})
        try:
            note = parse_note(response.text)
            checkpoint = parse_checkpoint(note.text)
        except NoteError as e:
            raise self._foreign(response, f"not a checkpoint: {e.detail}") from e
        if self.verify:
            assert self.policy is not None
            verify_log_signature(note, checkpoint, self.policy.log)
        return checkpoint, response.text

    def wait_for_final_checkpoint(
        self, seconds: float, pause: float = 0.05
    ) -> tuple[Checkpoint, str, list[str]]:
        """The latest checkpoint, its note and the witnesses (policy names) who cosigned it,
        asked again until they meet the policy's quorum or `seconds` have passed: the
        witnesses cosign within moments of a block. The caller judges the last answer."""
        assert self.policy is not None, "judging a quorum needs the trust policy"
        deadline = time.monotonic() + seconds
        while True:
            checkpoint, note = self.get_checkpoint()
            names = witness_cosigners(parse_note(note), self.policy.log)
            if self.policy.log.quorum_met(set(names)) or time.monotonic() > deadline:
                return checkpoint, note, names
            time.sleep(pause)

    def check_extends(self, kept: str) -> Checkpoint:
        """Whether the log today extends the checkpoint note `kept` (one this client saw
        before): the latest checkpoint, its signature checked, and a consistency proof from
        `kept` to it. Returns the latest; raises ProofError naming the fork if the log's
        history is no longer the one `kept` signed, NoteError if a note does not verify."""
        assert self.policy is not None, "checking a checkpoint needs the trust policy"
        old_note = parse_note(kept)
        old = parse_checkpoint(old_note.text)
        verify_log_signature(old_note, old, self.policy.log)
        latest, _ = self.get_checkpoint()
        if latest.origin != old.origin:
            raise NoteError(f"the log is {latest.origin!r}, the kept checkpoint {old.origin!r}")
        if latest.size < old.size:
            raise ProofError(
                f"FORK: the log's checkpoint has {latest.size} entries, fewer than the "
                f"{old.size} of the one kept: it has dropped history it signed"
            )
        proof = self.consistency_proof(old.size, latest.size) if old.size else []
        try:
            merkle.verify_consistency(old.size, latest.size, proof, old.root, latest.root)
        except ProofError as e:
            raise ProofError(
                f"FORK: the log's tree of {latest.size} entries does not extend the one of "
                f"{old.size} it signed before ({e.detail}): its history was rewritten"
            ) from e
        return latest

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        response = self._request(
            "GET", "/v1/proofs/inclusion", params={"index": index, "size": size}
        )
        return self._proof(response)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        params = {"first": first, "second": second}
        return self._proof(self._request("GET", "/v1/proofs/consistency", params=params))

    def _proof(self, response: httpx.Response) -> list[bytes]:
        answer = self._json(response)
        try:
            return [base64.b64decode(h, validate=True) for h in answer["proof"]]
        except (KeyError, TypeError, ValueError) as e:
            raise self._foreign(response, "no list of base64 hashes under 'proof'") from e

    def members(self) -> list[dict[str, Any]]:
        response = self._request("GET", "/v1/members")
        result = self._json(response)
        if not isinstance(result, list):
            raise self._foreign(response, "not a list of members")
        return result

    def entries(self, after: int = -1, limit: int = 100) -> dict[str, Any]:
        """A page of raw entries (signed member read)."""
        return self._object(self._signed_get("/v1/entries", {"after": after, "limit": limit}))

    def member_get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A member read of any route (an app's case view, say), signed with the client's key
        (docs/api.md); the JSON object answered, or the problem raised as its LedgerError."""
        return self._object(self._signed_get(path, params))

    def block(self, height: int) -> dict[str, Any]:
        return self._object(self._signed_get(f"/v1/blocks/{height}"))

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        result = self._json(response)
        if not isinstance(result, dict):
            raise self._foreign(response, "not a JSON object")
        return result
