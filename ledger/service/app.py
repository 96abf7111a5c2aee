"""What an app plugs into the ledger: record types, a write policy, a projection, routes, pages,
commands, a scenario and benchmarks. docs/apps.md ("Writing an app") walks through each part.

An app is one `App` object, registered through the entry-point group `sealchain.apps`:

    [project.entry-points."sealchain.apps"]
    beef = "apps.beef:APP"

The ledger never imports `apps`; an app imports only `ledger.plugin` and `ledger.core`. The
ledger's own governance types are an App too (`ledger.service.membership.GOVERNANCE_APP`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, MetaData, Table

from ledger.core.envelope import Envelope
from ledger.core.policy import RoleWritePolicy
from ledger.errors import ConfigError, InvalidBody, UnknownType

if TYPE_CHECKING:  # the service layer names these types but does not need them to run
    import typer
    from fastapi import APIRouter
    from rich.console import Console

    from ledger.api.pages.site import Site
    from ledger.bench.report import BenchRow

ENTRY_POINT_GROUP = "sealchain.apps"


@dataclass(frozen=True)
class RecordType:
    """A record type: its name (`<app>.<thing>`), body model and the roles that may write it."""

    name: str
    body: type[BaseModel]
    roles: frozenset[str]
    description: str = ""


@dataclass(frozen=True)
class SequencedEntry:
    """An accepted envelope at its place in the log, as projections see it."""

    envelope: Envelope
    body: BaseModel
    index: int
    block_height: int
    block_time: str


class Projection(Protocol):
    """App state derived from entries, written in the same transaction as the block.

    A projection is called only for its own app's record types; it may read anything.

    `check` is pipeline step (9): raise StateConflict with a sentence saying why. `apply` must
    not fail for an entry `check` accepted. `clear` deletes every row (for reindex).
    """

    def check(self, conn: Connection, entry: SequencedEntry) -> None: ...

    def apply(self, conn: Connection, entry: SequencedEntry) -> None: ...

    def clear(self, conn: Connection) -> None: ...


class Scenario(Protocol):
    """`sealchain scenario <app>`: tell the app's story against a running server at `url`,
    each party signing with its key in `home`, writing what it makes (QR codes, receipts) to
    `out`. Returns a JSON-able summary; its `urls` ({label: URL}) are printed by `sealchain demo`.
    """

    def __call__(self, *, url: str, home: Path, out: Path, console: Console) -> dict[str, Any]: ...


class Bench(Protocol):
    """`sealchain bench <name>`: measure, and report each figure with the baseline measured in
    the same run (never an absolute figure alone: machines differ between runs)."""

    def __call__(self, *, quick: bool, console: Console) -> list[BenchRow]: ...


@dataclass(frozen=True)
class App:
    """One app of the ledger. Only `name` and `record_types` are required.

    - `projection` and `metadata`: the app's state tables, derived from its entries in the
      block's transaction, rebuilt by `sealchain reindex`, compared by `audit --projections`;
      `off_ledger_tables` are tables in `metadata` that hold data kept off the ledger (a scan
      counter, say): `clear` leaves them alone and the projection check skips them.
    - `api`: routers mounted under `/v1/<name>`; `pages`: routers of public pages mounted at the
      site root (a GS1 Digital Link, a certificate page); `site`: the app's templates, static
      files and message catalogs for the shared page layer (`ledger.api.pages`). Routers are
      listed, not nested, so that each route is measured under the path a client uses.
    - `cli`: a typer app added as `sealchain <name> ...`; `commands`: top-level commands.
    - `body_limits`: the largest request body, in bytes, of the app's upload routes, by path.
    """

    name: str
    record_types: Sequence[RecordType]
    projection: Projection | None = None
    metadata: MetaData | None = None
    off_ledger_tables: frozenset[str] = frozenset()
    api: Sequence[APIRouter] = ()
    pages: Sequence[APIRouter] = ()
    site: Site | None = None
    cli: typer.Typer | None = None
    commands: Mapping[str, Callable[..., None]] = field(default_factory=dict)
    scenario: Scenario | None = None
    benches: Mapping[str, Bench] = field(default_factory=dict)
    body_limits: Mapping[str, int] = field(default_factory=dict)


class Registry:
    """All apps of one ledger: record types by name, the write policy, projections in order."""

    def __init__(self, apps: Iterable[App]) -> None:
        self.apps: list[App] = list(apps)
        self.types: dict[str, RecordType] = {}
        names = [app.name for app in self.apps]
        if duplicated := sorted({n for n in names if names.count(n) > 1}):
            raise ConfigError(f"apps {duplicated} are registered twice")
        for app in self.apps:
            for rt in app.record_types:
                if not rt.name.startswith(app.name + "."):
                    raise ConfigError(f"record type {rt.name} must start with {app.name}.")
                if rt.name in self.types:
                    raise ConfigError(f"record type {rt.name} registered twice")
                self.types[rt.name] = rt
        for app in self.apps:
            known = set(app.metadata.tables) if app.metadata is not None else set()
            if unknown := sorted(app.off_ledger_tables - known):
                raise ConfigError(f"app {app.name}: off_ledger_tables {unknown} are not its tables")
            prefix = f"/v1/{app.name}/"
            if outside := sorted(p for p in app.body_limits if not p.startswith(prefix)):
                raise ConfigError(f"app {app.name}: body_limits {outside} are not under {prefix}")
        self.write_policy = RoleWritePolicy({n: rt.roles for n, rt in self.types.items()})
        self._projection_by_type = {
            rt.name: app.projection
            for app in self.apps
            if app.projection is not None
            for rt in app.record_types
        }

    def record_type(self, name: str) -> RecordType:
        try:
            return self.types[name]
        except KeyError:
            raise UnknownType(f"record type {name!r} is not registered on this ledger") from None

    def parse_body(self, envelope: Envelope) -> tuple[RecordType, BaseModel]:
        """Step (7): the type is registered and its body validates against the type's model."""
        rt = self.record_type(envelope.type)
        try:
            body = rt.body.model_validate(envelope.body, strict=False)
        except ValidationError as e:
            problems = [
                {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"]}
                for err in e.errors(include_url=False, include_input=False)
            ]
            first = problems[0] if problems else {"loc": "", "msg": "invalid"}
            raise InvalidBody(
                f"body of {envelope.type} is invalid at {first['loc'] or 'top level'}: "
                f"{first['msg']}",
                errors=problems,
            ) from None
        return rt, body

    def projection_for(self, record_type: str) -> Projection | None:
        """The projection of the app that owns `record_type`: each sees only its own types."""
        return self._projection_by_type.get(record_type)

    def projections(self) -> list[Projection]:
        return [app.projection for app in self.apps if app.projection is not None]

    def projection_metadata(self) -> list[MetaData]:
        return [app.metadata for app in self.apps if app.metadata is not None]

    def derived_tables(self) -> list[Table]:
        """Every app table whose rows a replay of the entries must reproduce exactly."""
        return [
            table
            for app in self.apps
            if app.metadata is not None
            for table in app.metadata.sorted_tables
            if table.name not in app.off_ledger_tables
        ]

    def body_limits(self) -> dict[str, int]:
        """The upload limits every app asked for, by path."""
        return {path: size for app in self.apps for path, size in app.body_limits.items()}


def discover_apps() -> list[App]:
    """Apps installed through the `sealchain.apps` entry-point group, sorted by name."""
    found: list[App] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        app = ep.load()
        if not isinstance(app, App):
            raise ConfigError(f"entry point {ep.name} does not point at a ledger App")
        found.append(app)
    return found


def import_apps(spec: str) -> list[App]:
    """Apps named as comma-separated `module:attribute` (Settings.extra_apps)."""
    found: list[App] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attr = item.partition(":")
        try:
            app = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot load app {item!r}: {e}") from e
        if not isinstance(app, App):
            raise ConfigError(f"{item!r} is not a ledger App")
        found.append(app)
    return found
