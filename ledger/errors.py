"""One rooted error tree for Sealchain; every error carries a stable problem code.

    LedgerError                      code               status
    ├── InputError                   (the caller sent something we refuse)
    │   ├── MalformedJSON            malformed-json      400
    │   ├── PayloadTooLarge          payload-too-large   413
    │   ├── InvalidEnvelope          invalid-envelope    400
    │   ├── UnknownOrg               unknown-org         403
    │   ├── UnknownKey               unknown-key         403
    │   ├── RevokedKey               revoked-key         403
    │   ├── BadSignature             bad-signature       403
    │   ├── StaleTimestamp           stale-timestamp     422
    │   ├── Replay                   replay              409
    │   ├── DuplicateEntry           duplicate-entry     409
    │   ├── UnknownType              unknown-type        422
    │   ├── InvalidBody              invalid-body        422
    │   ├── ForbiddenRole            forbidden-role      403
    │   ├── StateConflict            state-conflict      409
    │   ├── NotFound                 not-found           404
    │   ├── InvalidRequest           invalid-request     400  (query, path or header)
    │   ├── Unauthenticated          unauthenticated     401  (member read without signature)
    │   └── PdfUnreadable            bad-pdf             422  (ledger.documents cannot sign it)
    ├── VerificationError            (bytes we were given do not verify)
    │   ├── ProofError               bad-proof           422
    │   ├── NoteError                bad-note            422
    │   ├── PolicyError              bad-policy          422
    │   ├── ReceiptInvalid           bad-receipt         422
    │   ├── TokenInvalid             bad-timestamp       422  (RFC 3161 token, ledger.timestamping)
    │   └── TimestampMismatch        timestamp-mismatch  422  (a token that stamps other bytes)
    ├── ConfigError                  bad-config          500  (operator's fault, never a client's)
    ├── StorageError                 storage             503
    └── Unreachable                  unreachable         503  (client side: no answer from server)

`code` is the last path segment of the RFC 9457 problem `type`; clients match on it, so codes never
change once released.  Messages are sentences a person can act on.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://sealchain.dev/problems/"


class LedgerError(Exception):
    """Root of every error Sealchain raises on purpose."""

    code: ClassVar[str] = "ledger-error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Ledger error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.code

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem document for this error (no stack trace, ever)."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class InputError(LedgerError):
    """The caller sent something the ledger refuses; nothing was stored."""

    code = "bad-input"
    status = 400
    title = "Bad input"


class MalformedJSON(InputError):
    code = "malformed-json"
    status = 400
    title = "Malformed JSON"


class PayloadTooLarge(InputError):
    code = "payload-too-large"
    status = 413
    title = "Payload too large"


class InvalidEnvelope(InputError):
    code = "invalid-envelope"
    status = 400
    title = "Invalid envelope"


class UnknownOrg(InputError):
    code = "unknown-org"
    status = 403
    title = "Unknown or inactive organisation"


class UnknownKey(InputError):
    code = "unknown-key"
    status = 403
    title = "Key does not belong to the organisation"


class RevokedKey(InputError):
    code = "revoked-key"
    status = 403
    title = "Key has been revoked"


class BadSignature(InputError):
    code = "bad-signature"
    status = 403
    title = "Signature does not verify"


class StaleTimestamp(InputError):
    code = "stale-timestamp"
    status = 422
    title = "Timestamp outside the accepted window"


class Replay(InputError):
    code = "replay"
    status = 409
    title = "Nonce already used"


class DuplicateEntry(InputError):
    """The very same envelope (same tx_id) is already on the ledger."""

    code = "duplicate-entry"
    status = 409
    title = "Entry already sequenced"


class UnknownType(InputError):
    code = "unknown-type"
    status = 422
    title = "Unknown record type"


class InvalidBody(InputError):
    code = "invalid-body"
    status = 422
    title = "Body does not match its record type"


class ForbiddenRole(InputError):
    code = "forbidden-role"
    status = 403
    title = "Organisation lacks the role for this record type"


class StateConflict(InputError):
    code = "state-conflict"
    status = 409
    title = "Conflicts with the ledger state"


class NotFound(InputError):
    code = "not-found"
    status = 404
    title = "Not found"


class InvalidRequest(InputError):
    code = "invalid-request"
    status = 400
    title = "Invalid request"


class Unauthenticated(InputError):
    code = "unauthenticated"
    status = 401
    title = "Member signature required"


class PdfUnreadable(InputError):
    """A PDF that ledger.documents cannot parse, and so cannot sign or validate."""

    code = "bad-pdf"
    status = 422
    title = "Not a PDF we can sign"


class Forbidden(InputError):
    """A signed-in member asks for what is not theirs to read (another court's case)."""

    code = "forbidden"
    status = 403
    title = "Not readable by this member"


class RateLimited(InputError):
    """A public service answered this client as often as it answers anyone in a minute."""

    code = "rate-limited"
    status = 429
    title = "Too many requests"


class VerificationError(LedgerError):
    """Bytes handed to a verifier do not verify."""

    code = "verification-failed"
    status = 422
    title = "Verification failed"


class ProofError(VerificationError):
    code = "bad-proof"
    title = "Merkle proof does not verify"


class NoteError(VerificationError):
    code = "bad-note"
    title = "Signed note is malformed or does not verify"


class PolicyError(VerificationError):
    code = "bad-policy"
    title = "Trust policy is malformed"


class ReceiptInvalid(VerificationError):
    """A receipt failed verification at a numbered step (see ledger.core.receipt)."""

    code = "bad-receipt"
    title = "Receipt does not verify"

    def __init__(self, step: int, detail: str, **extra: Any) -> None:
        super().__init__(f"step {step}: {detail}", step=step, **extra)
        self.step = step


class TokenInvalid(VerificationError):
    """An RFC 3161 timestamp token does not verify (ledger.timestamping.rfc3161.verify_token)."""

    code = "bad-timestamp"
    title = "Timestamp token does not verify"


class TimestampMismatch(VerificationError):
    """A timestamp token, valid or not, whose imprint is not the digest of the signature it
    was asked to stamp (ledger.documents.CallbackTimeStamper)."""

    code = "timestamp-mismatch"
    title = "The timestamp token does not stamp this signature"


class ConfigError(LedgerError):
    code = "bad-config"
    status = 500
    title = "Server misconfigured"


class StorageError(LedgerError):
    code = "storage"
    status = 503
    title = "Storage unavailable"


class Unreachable(LedgerError):
    code = "unreachable"
    status = 503
    title = "Ledger service unreachable"


def error_for_code(code: str) -> type[LedgerError]:
    """The error class for a problem code (LedgerError for codes this version does not know)."""
    return next((cls for cls in all_error_types() if cls.code == code), LedgerError)


def error_from_problem(problem: dict[str, Any], status: int | None = None) -> LedgerError:
    """Rebuild the exception a problem document describes (the client side of `problem()`)."""
    code = str(problem.get("code", ""))
    detail = str(problem.get("detail", "the server refused the request"))
    cls = error_for_code(code)
    error = cls.__new__(cls)
    extra = {k: v for k, v in problem.items() if k not in {"type", "title", "detail", "code"}}
    if status is not None:
        extra["status"] = status
    LedgerError.__init__(error, detail, **extra)
    if isinstance(error, ReceiptInvalid):
        error.step = int(problem.get("step", 0))
    return error


def all_error_types() -> list[type[LedgerError]]:
    """Every concrete error class, for documentation and exhaustive tests."""
    seen: list[type[LedgerError]] = []
    stack: list[type[LedgerError]] = [LedgerError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
