"""Body models of the beef record types: an EPCIS 2.0 event plus what the story needs.

Every event's `eventID` must be its CBV 2.0 hash, so the id is a commitment to the event.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from apps.beef.epcis import event_hash
from apps.beef.identifiers import (
    IdentifierError,
    check_cset82,
    check_gtin,
    kind_of,
    lot_key,
    org_from_uri,
)
from ledger.plugin import Lines, OneLine, Text

ISO_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
# Text a page shows as signed: no control or bidirectional formatting characters (a carriage
# return in a product name once turned a genuine pack's verdict red), and notes keep line feeds.
Note = Annotated[str, Field(min_length=1, max_length=500), Lines]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(_Model):
    id: Annotated[str, Field(pattern=r"^urn:sealchain:place:[a-z0-9-]{1,60}$")]
    name: Text
    city: Text
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class PartyRef(_Model):
    type: Literal["owning_party", "possessing_party", "location"]
    source: str | None = None
    destination: str | None = None


class Reading(_Model):
    type: Literal["Temperature"]
    time: Annotated[str, Field(pattern=ISO_TIME)]
    value: Annotated[float, Field(ge=-60, le=60)]
    uom: Literal["CEL"]


class SensorElement(_Model):
    sensorMetadata: dict[str, Any] = {}
    sensorReport: Annotated[list[Reading], Field(min_length=1, max_length=500)]


class Event(BaseModel):
    """The subset of EPCIS 2.0 these record types use (other EPCIS fields are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["ObjectEvent", "AggregationEvent"]
    eventID: Annotated[str, Field(pattern=r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")]
    eventTime: Annotated[str, Field(pattern=ISO_TIME)]
    eventTimeZoneOffset: Annotated[str, Field(pattern=r"^[+-][0-9]{2}:[0-9]{2}$")]
    action: Literal["ADD", "OBSERVE", "DELETE"]
    bizStep: Annotated[str, Field(max_length=60)]
    disposition: Annotated[str, Field(max_length=60)] | None = None
    readPoint: dict[Literal["id"], str]
    epcList: Annotated[list[str], Field(max_length=1000)] = []
    parentID: str | None = None
    childEPCs: Annotated[list[str], Field(max_length=1000)] = []
    quantityList: list[dict[str, Any]] = []
    sourceList: list[PartyRef] = []
    destinationList: list[PartyRef] = []
    ilmd: dict[str, Any] | None = None
    sensorElementList: list[SensorElement] = []
    certificationInfo: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _hash_is_the_id(cls, data: Any) -> Any:
        # Hashed as received (before any coercion), so the id commits to the exact JSON.
        if isinstance(data, dict) and data.get("eventID") != event_hash(data):
            raise ValueError("eventID is not the CBV 2.0 hash of the event")
        return data

    @field_validator("epcList", "childEPCs")
    @classmethod
    def _known_identifiers(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                kind_of(value)
            except IdentifierError as e:
                raise ValueError(str(e)) from None
        if len(set(values)) != len(values):
            raise ValueError("an identifier is listed twice")
        return values

    def parties(self, role: str, kind: str = "owning_party") -> list[str]:
        refs = self.sourceList if role == "source" else self.destinationList
        found = []
        for ref in refs:
            value = ref.source if role == "source" else ref.destination
            if ref.type == kind and value:
                try:
                    found.append(org_from_uri(value))
                except IdentifierError as e:
                    raise ValueError(str(e)) from None
        return found


class LotData(_Model):
    """Lot master data (EPCIS ilmd) recorded at commissioning."""

    gtin: str
    lot: str
    productName: Text
    cut: Text
    netWeightKg: Annotated[float, Field(gt=0, le=100)]
    packedOn: date
    bestBefore: date
    msaGrade: Annotated[str, Field(max_length=40), OneLine]
    establishment: Annotated[str, Field(max_length=40), OneLine]
    processor: Text
    origin: Text
    nlisTags: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9A-Z ]{8,20}$")]], Field(max_length=500)
    ]

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        try:
            return check_gtin(value)
        except IdentifierError as e:
            raise ValueError(str(e)) from None

    @field_validator("lot")
    @classmethod
    def _lot(cls, value: str) -> str:
        try:
            return check_cset82(value, "lot")
        except IdentifierError as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _dates(self) -> LotData:
        if self.bestBefore <= self.packedOn:
            raise ValueError("bestBefore must be after packedOn")
        return self


class Certificate(_Model):
    kind: Literal["export-health", "halal", "organic", "import-permit"]
    number: Annotated[str, Field(min_length=1, max_length=60), OneLine]
    issuer: Text


class _WithEvent(_Model):
    event: Event
    place: Place


class Commission(_WithEvent):
    """beef.commission: packs of one lot come into being (ObjectEvent ADD, commissioning)."""

    @model_validator(mode="after")
    def _shape(self) -> Commission:
        e = self.event
        if (e.type, e.action, e.bizStep) != ("ObjectEvent", "ADD", "commissioning"):
            raise ValueError("commissioning is an ObjectEvent ADD with bizStep commissioning")
        if not e.epcList or any(kind_of(epc) != "pack" for epc in e.epcList):
            raise ValueError("commissioning lists the packs it creates")
        if e.ilmd is None:
            raise ValueError("commissioning carries the lot master data in ilmd")
        lot = LotData.model_validate(e.ilmd)
        prefix = lot_key(lot.gtin, lot.lot) + "/21/"
        if any(not epc.startswith(prefix) for epc in e.epcList):
            raise ValueError("every commissioned pack must be of the lot in ilmd")
        # That each pack is a Digital Link a scan can read is a rule of new commissionings
        # (rules.check_pack_uri), not of this model: the audit and reindex validate every
        # entry on the ledger against it, including those committed before the rule.
        return self

    @property
    def lot(self) -> LotData:
        return LotData.model_validate(self.event.ilmd)


class Aggregate(_WithEvent):
    """beef.aggregate / beef.disaggregate: packs into cartons, cartons into containers."""

    @model_validator(mode="after")
    def _shape(self) -> Aggregate:
        e = self.event
        if e.type != "AggregationEvent" or e.action not in ("ADD", "DELETE") or not e.parentID:
            raise ValueError("aggregation is an AggregationEvent ADD or DELETE with a parentID")
        if kind_of(e.parentID) == "pack":
            raise ValueError("a pack cannot contain other objects")
        if e.action == "ADD" and not e.childEPCs:
            raise ValueError("aggregation lists its children")
        return self


class Ship(_WithEvent):
    """beef.ship: the holder sends objects to another party (ObjectEvent OBSERVE shipping)."""

    certificates: list[Certificate] = []

    @model_validator(mode="after")
    def _shape(self) -> Ship:
        e = self.event
        if (e.type, e.action, e.bizStep) != ("ObjectEvent", "OBSERVE", "shipping") or not e.epcList:
            raise ValueError("shipping is an ObjectEvent OBSERVE with bizStep shipping")
        if len(e.parties("destination")) != 1 or len(e.parties("source")) != 1:
            raise ValueError("shipping names one source and one destination owning_party")
        return self


class Receive(_WithEvent):
    """beef.receive: the addressee takes custody (ObjectEvent OBSERVE receiving)."""

    @model_validator(mode="after")
    def _shape(self) -> Receive:
        e = self.event
        if (e.type, e.action, e.bizStep) != (
            "ObjectEvent",
            "OBSERVE",
            "receiving",
        ) or not e.epcList:
            raise ValueError("receiving is an ObjectEvent OBSERVE with bizStep receiving")
        if len(e.parties("source")) != 1:
            raise ValueError("receiving names the shipping party as source owning_party")
        return self


class SensorReport(_WithEvent):
    """beef.sensor: cold-chain temperature readings for a container or carton."""

    @model_validator(mode="after")
    def _shape(self) -> SensorReport:
        e = self.event
        if (e.type, e.bizStep) != ("ObjectEvent", "sensor_reporting") or not e.sensorElementList:
            raise ValueError("a sensor report is an ObjectEvent sensor_reporting with readings")
        return self


class CustomsDecision(_Model):
    healthCertificate: Annotated[str, Field(min_length=1, max_length=60), OneLine]
    conformant: bool
    decision: Literal["release", "hold"]
    note: Annotated[str, Field(max_length=500), Lines] = ""


class Inspect(_WithEvent):
    """beef.inspect: port inspection (GACC): release or hold the objects inspected."""

    customs: CustomsDecision

    @model_validator(mode="after")
    def _shape(self) -> Inspect:
        e = self.event
        if (e.type, e.bizStep) != ("ObjectEvent", "inspecting") or not e.epcList:
            raise ValueError("an inspection is an ObjectEvent with bizStep inspecting")
        return self


class Sell(_WithEvent):
    """beef.sell: a retailer sells packs (ObjectEvent OBSERVE retail_selling)."""

    @model_validator(mode="after")
    def _shape(self) -> Sell:
        e = self.event
        if (e.bizStep, e.disposition) != ("retail_selling", "retail_sold") or not e.epcList:
            raise ValueError("a sale is bizStep retail_selling with disposition retail_sold")
        if any(kind_of(epc) != "pack" for epc in e.epcList):
            raise ValueError("only packs are sold to consumers")
        return self


class Recall(_WithEvent):
    """beef.recall: every pack of a lot is recalled, wherever it is."""

    gtin: str
    lot: str
    reason: Annotated[str, Field(min_length=1, max_length=500), OneLine]

    @model_validator(mode="after")
    def _shape(self) -> Recall:
        if self.event.disposition != "recalled":
            raise ValueError("a recall event has disposition recalled")
        return self


class Correction(_Model):
    """beef.correct: an EPCIS error declaration on an earlier event; nothing is deleted."""

    eventID: Annotated[str, Field(pattern=r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")]
    declarationTime: Annotated[str, Field(pattern=ISO_TIME)]
    reason: Literal["incorrect_data", "did_not_occur"]
    correctiveEventIDs: list[str] = []
    note: Note


class Pack(Aggregate):
    """beef.aggregate: ADD children into a carton or container."""

    @model_validator(mode="after")
    def _add(self) -> Pack:
        if self.event.action != "ADD":
            raise ValueError("beef.aggregate adds children (action ADD)")
        return self


class Unpack(Aggregate):
    """beef.disaggregate: DELETE children from their carton or container."""

    @model_validator(mode="after")
    def _delete(self) -> Unpack:
        if self.event.action != "DELETE":
            raise ValueError("beef.disaggregate removes children (action DELETE)")
        return self


class CommittedEvent(Event):
    """A commissioning event as a lot commitment restates it: without its epcList. Its eventID
    is the hash of the whole event, packs included, so the ledger checks it with the lot's packs
    (rules._check_lot); here it is only shaped like an event id."""

    @model_validator(mode="before")
    @classmethod
    def _hash_is_the_id(cls, data: Any) -> Any:
        return data


class PackRoot(_Model):
    """A lot's packs as a Merkle tree (apps/beef/lottree.py): how many, and the root."""

    count: Annotated[int, Field(ge=1, le=1000)]
    root: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]  # 32 bytes, base64


class LotCommitment(_Model):
    """beef.lot: a commissioning restated by the processor with its packs as a Merkle root, so a
    pack's scan carries this short entry and one path instead of the lot's list of packs. The
    ledger accepts it only if it is the commission's own event (same id, same packs)."""

    event: CommittedEvent
    place: Place
    packs: PackRoot

    @model_validator(mode="after")
    def _shape(self) -> LotCommitment:
        e = self.event
        if (e.type, e.action, e.bizStep) != ("ObjectEvent", "ADD", "commissioning"):
            raise ValueError("a lot commitment restates a commissioning event")
        if "epcList" in e.model_fields_set or e.ilmd is None:
            raise ValueError("a lot commitment has the lot's ilmd and its packs as a root only")
        LotData.model_validate(e.ilmd)
        return self

    @property
    def lot(self) -> LotData:
        return LotData.model_validate(self.event.ilmd)
