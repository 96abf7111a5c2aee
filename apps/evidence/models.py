"""Body models of the evidence record types.

Only hashes reach the ledger, never the evidence itself: a deposit carries the file's SHA-256
(and optionally SHA3-256), its size, media type and title, and how it was captured. Courts
weigh exactly these facts (docs/evidence.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.evidence.numbers import PATTERN as DEPOSIT_NUMBER
from ledger.plugin import Lines, OneLine, Text

ISO_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
Hex256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Org = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
# Chinese case numbers read like "(2026)浙0192民初1234号": free text, one line.
CaseNumber = Annotated[str, Field(min_length=3, max_length=60), OneLine]
DepositNumber = Annotated[str, Field(pattern=DEPOSIT_NUMBER)]
Note = Annotated[str, Field(min_length=1, max_length=1000), Lines]
Url = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$"), OneLine]
# ISCC-CODE of a text: "ISCC:" and the base32 of a 2-byte header and a 64-bit body.
IsccText = Annotated[str, Field(pattern=r"^ISCC:EA[A-Z2-7]{14}$")]
MediaType = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
]

CAPTURE_METHODS = ("file", "web-page", "screen-recording", "upload")
CATEGORIES = ("work", "evidence", "appraisal-report", "judgment")
CUSTODY_EVENTS = ("received", "examined", "appraisal", "admitted", "excluded", "sealed")
STAMP_ALGORITHMS = ("sha256", "sha384", "sha512", "sha3-256")
DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128, "sha3-256": 64}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capture(_Model):
    """How the evidence was captured: the integrity of capture is what a court examines first."""

    method: Literal["file", "web-page", "screen-recording", "upload"]
    capturedAt: Annotated[str, Field(pattern=ISO_TIME)]
    tool: Text
    operator: Text
    sourceUrl: Url | None = None

    @model_validator(mode="after")
    def _web_pages_have_a_source(self) -> Capture:
        if self.method == "web-page" and self.sourceUrl is None:
            raise ValueError("a captured web page needs its sourceUrl")
        return self


class Deposit(_Model):
    """evidence.deposit: the hashes of a file and the facts of its capture."""

    title: Text
    category: Literal["work", "evidence", "appraisal-report", "judgment"]
    mediaType: MediaType
    size: Annotated[int, Field(ge=0, le=2**53 - 1)]
    sha256: Hex256
    sha3_256: Hex256 | None = None
    iscc: IsccText | None = None  # for text works: found again by similarity
    capture: Capture


class Stamp(_Model):
    """evidence.stamp: a hash stamped by the RFC 3161 service, recorded under the platform
    that runs it. `client` is a keyed hash of the requester's address: the platform can answer
    for its rate limits without publishing who asked."""

    algorithm: Literal["sha256", "sha384", "sha512", "sha3-256"]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64,128}$")]
    client: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]

    @model_validator(mode="after")
    def _digest_fits_algorithm(self) -> Stamp:
        if len(self.digest) != DIGEST_HEX_LENGTH[self.algorithm]:
            raise ValueError(
                f"a {self.algorithm} digest is {DIGEST_HEX_LENGTH[self.algorithm]} hex digits, "
                f"not {len(self.digest)}"
            )
        return self


class OpenCase(_Model):
    """evidence.case.open: a court opens a case between parties (members)."""

    case: CaseNumber
    title: Text
    cause: Text
    parties: Annotated[list[Org], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _parties_once(self) -> OpenCase:
        if len(set(self.parties)) != len(self.parties):
            raise ValueError("each party is named once")
        return self


class Submit(_Model):
    """evidence.submit: a party (or the appraiser the court sent it to) submits a deposit."""

    case: CaseNumber
    deposit: DepositNumber
    note: Note | None = None


class Custody(_Model):
    """evidence.custody: the court's record of what happened to a deposit, or to the case."""

    case: CaseNumber
    event: Literal["received", "examined", "appraisal", "admitted", "excluded", "sealed"]
    deposit: DepositNumber | None = None
    reason: Note | None = None
    appraiser: Org | None = None

    @model_validator(mode="after")
    def _fields_fit_event(self) -> Custody:
        if (self.event == "sealed") != (self.deposit is None):
            raise ValueError("'sealed' is about the case (no deposit); every other event names one")
        if self.event == "excluded" and self.reason is None:
            raise ValueError("excluding evidence needs a reason")
        if (self.event == "appraisal") != (self.appraiser is not None):
            raise ValueError("'appraisal' names the appraiser, and only it does")
        return self


class Judgment(_Model):
    """evidence.judgment: the hash of the court's judgment document."""

    case: CaseNumber
    title: Text
    sha256: Hex256
