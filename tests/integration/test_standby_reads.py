"""Reads served from a hot standby (SEALCHAIN_READ_DATABASE_URL, docs/deploy.md).

On a real PostgreSQL streaming replica (SEALCHAIN_TEST_PG_REPLICA_URL, a standby of
SEALCHAIN_TEST_PG_URL's server; `scripts/postgres.sh replica`): once replicated, the standby
serves tiles, proofs, blocks, members and pages; with its replay paused (a lag that lasts as
long as the test needs), what was committed on the primary since is answered from the primary,
never a false 404, and the latest checkpoint is the primary's. Without the replica these tests
skip, or fail under SEALCHAIN_REQUIRE_POSTGRES=1 as the other PostgreSQL tests do.

Everywhere (SQLite): a standby that is an older copy of the database is read and falls back the
same way, a standby that does not answer leaves the reads to the primary, and the read engine
refuses writes.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from apps.beef.identifiers import pack_id
from ledger.api import create_app
from ledger.config import Settings
from ledger.core import merkle, tiles
from ledger.core.envelope import format_ts
from ledger.core.note import parse_checkpoint, parse_note
from ledger.core.request_auth import sign_request
from ledger.service.node import open_node
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.conftest import PG_URL, REQUIRE_PG, create_pg_database, drop_pg_database
from tests.support.beef import GTIN, BeefWorld, beef_world
from tests.support.ledgers import LedgerFixture, make_ledger
from tests.support.sample_app import SAMPLE_APP

REPLICA_URL = os.environ.get("SEALCHAIN_TEST_PG_REPLICA_URL", "")
REPLAY_TIMEOUT = 60.0  # seconds; a healthy local replica replays in milliseconds


# --- the replica ---------------------------------------------------------------------------------


def _need_replica() -> None:
    if PG_URL and REPLICA_URL:
        return
    missing = "SEALCHAIN_TEST_PG_URL" if not PG_URL else "SEALCHAIN_TEST_PG_REPLICA_URL"
    if REQUIRE_PG:
        pytest.fail(f"SEALCHAIN_REQUIRE_POSTGRES=1 but {missing} is not set")
    pytest.skip(f"no streaming replica: set {missing} (scripts/postgres.sh replica)")


@dataclass
class Replica:
    """The test server and its standby, by their admin engines."""

    primary: Engine
    standby: Engine

    def wait_replayed(self) -> None:
        """Until the standby has replayed all the WAL the primary has written so far."""
        with self.primary.connect() as conn:
            lsn = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        deadline = time.monotonic() + REPLAY_TIMEOUT
        query = text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
        while True:
            with self.standby.connect() as conn:
                if conn.execute(query, {"lsn": lsn}).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the standby did not replay up to {lsn} in time")
            time.sleep(0.05)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The standby's replay paused: what the primary commits meanwhile is not there."""
        with self.standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
            try:
                deadline = time.monotonic() + REPLAY_TIMEOUT
                state = text("SELECT pg_get_wal_replay_pause_state()")
                while conn.execute(state).scalar_one() != "paused":
                    assert time.monotonic() < deadline, "the standby's replay did not pause"
                    time.sleep(0.02)
                yield
            finally:
                # Always resumed: a standby left paused would stall every later test.
                conn.execute(text("SELECT pg_wal_replay_resume()"))


@pytest.fixture(scope="module")
def replica() -> Iterator[Replica]:
    _need_replica()
    found = Replica(
        create_engine(PG_URL, isolation_level="AUTOCOMMIT"),
        create_engine(REPLICA_URL, isolation_level="AUTOCOMMIT"),
    )
    ident = text("SELECT system_identifier FROM pg_control_system()")
    with found.primary.connect() as p, found.standby.connect() as s:
        assert s.execute(text("SELECT pg_is_in_recovery()")).scalar_one(), (
            "SEALCHAIN_TEST_PG_REPLICA_URL is not a standby (pg_is_in_recovery() is false)"
        )
        assert p.execute(ident).scalar_one() == s.execute(ident).scalar_one(), (
            "SEALCHAIN_TEST_PG_REPLICA_URL is not a replica of SEALCHAIN_TEST_PG_URL's server"
        )
    yield found
    found.primary.dispose()
    found.standby.dispose()


@contextmanager
def database_pair(replica: Replica) -> Iterator[tuple[str, str]]:
    """A fresh database on the primary, and its URL on the standby once replayed there."""
    url = create_pg_database()
    name = make_url(url).database
    standby_url = make_url(REPLICA_URL).set(database=name).render_as_string(hide_password=False)
    replica.wait_replayed()
    try:
        yield url, standby_url
    finally:
        drop_pg_database(url)


def with_standby(built: LedgerFixture, standby_url: str) -> LedgerFixture:
    """The same ledger reopened with SEALCHAIN_READ_DATABASE_URL set to `standby_url`."""
    built.node.close()
    settings = built.settings.model_copy(update={"read_database_url": standby_url})
    node = open_node(settings, extra_apps=[SAMPLE_APP])
    assert node.read_engine is not node.engine
    return LedgerFixture(node, built.signers, settings)


@pytest.fixture
def on_replica(replica: Replica, tmp_path: Path) -> Iterator[LedgerFixture]:
    with database_pair(replica) as (url, standby_url):
        built = with_standby(make_ledger(tmp_path / "home", url), standby_url)
        try:
            yield built
        finally:
            built.close()  # before the database is dropped: the standby ends its sessions


def signed_get(api: TestClient, built: LedgerFixture, path: str, query: str = ""):
    org = "writer-a"
    now = format_ts(datetime.now(UTC))
    headers = sign_request(built.signers[org], org, "GET", path, query, b"", now)
    return api.get(path + ("?" + query if query else ""), headers=headers)


def add_notes(built: LedgerFixture, count: int, per_block: int) -> None:
    """More entries after `fill` (whose claims can be made only once)."""
    for start in range(0, count, per_block):
        batch = range(start, min(count, start + per_block))
        built.accept(*(built.sign("writer-a", "sample.note", {"text": f"more {i}"}) for i in batch))


def primary_size_and_blocks(built: LedgerFixture) -> tuple[int, int]:
    with read_transaction(built.node.engine) as conn:
        repo = Repository(conn)
        head = repo.head()
        assert head is not None
        return repo.tree_size(), head.height + 1


def served_checkpoint(api: TestClient):
    answer = api.get("/checkpoint")
    assert answer.status_code == 200, answer.text
    return parse_checkpoint(parse_note(answer.text).text)


def assert_served_from_primary(api: TestClient, built: LedgerFixture, old: int, new: int) -> None:
    """Everything between tree sizes `old` and `new` (not on the standby) is served, and
    verifies against the checkpoint of size `new`."""
    checkpoint = served_checkpoint(api)
    assert checkpoint.size == new  # the primary's, not the standby's older one
    with read_transaction(built.node.engine) as conn:
        expected = Repository(conn).entry_data(range(old, new))
    # the entry bundle holding the last entry, and the level-0 tile over it
    n, width = (new - 1) // tiles.WIDTH, tiles.width_at(0, (new - 1) // tiles.WIDTH, new)
    bundle = api.get("/" + tiles.tile_path("entries", n, width))
    assert bundle.status_code == 200, bundle.text
    entries = tiles.parse_entry_bundle(bundle.content)
    assert entries[-1] == expected[new - 1]
    tile = api.get("/" + tiles.tile_path(0, n, width))
    assert tile.status_code == 200, tile.text
    tiles.check_bundle(entries, tile.content)
    # an inclusion proof of the newest entry, and consistency from the standby's size
    proof = api.get("/v1/proofs/inclusion", params={"index": new - 1, "size": new})
    assert proof.status_code == 200, proof.text
    path = [base64.b64decode(h) for h in proof.json()["proof"]]
    leaf = merkle.leaf_hash(expected[new - 1])
    merkle.verify_inclusion(new - 1, new, leaf, path, checkpoint.root)
    older = api.get("/v1/checkpoint", params={"size": old}, headers={"accept": "text/plain"})
    assert older.status_code == 200, older.text
    old_root = parse_checkpoint(parse_note(older.text).text).root
    consistency = api.get("/v1/proofs/consistency", params={"first": old, "second": new})
    assert consistency.status_code == 200, consistency.text
    path = [base64.b64decode(h) for h in consistency.json()["proof"]]
    merkle.verify_consistency(old, new, path, old_root, checkpoint.root)
    # what is absent on the primary too is still a 404
    beyond = api.get("/" + tiles.tile_path("entries", n + 1, 1))
    assert beyond.status_code == 404
    nowhere = api.get("/v1/proofs/inclusion", params={"index": new, "size": new + 1})
    assert nowhere.status_code == 404


# --- on the real replica -------------------------------------------------------------------------


@pytest.mark.postgres
def test_standby_serves_the_log_once_replicated(
    on_replica: LedgerFixture, replica: Replica
) -> None:
    built = on_replica
    built.fill(300, per_block=100)
    replica.wait_replayed()
    size, blocks = primary_size_and_blocks(built)
    standby = built.node.standby_engine
    assert standby is not None
    with TestClient(create_app(built.settings, node=built.node)) as api:
        assert served_checkpoint(api).size == size
        first = api.get("/" + tiles.tile_path("entries", 0, tiles.WIDTH))
        assert first.status_code == 200
        tiles.check_bundle(tiles.parse_entry_bundle(first.content), api.get("/tile/0/000").content)
        proof = api.get("/v1/proofs/inclusion", params={"index": 5, "size": size})
        assert proof.status_code == 200, proof.text
        members = api.get("/v1/members")
        assert {m["org"] for m in members.json()} >= {"admin", "writer-a", "writer-b"}
        listed = signed_get(api, built, "/v1/blocks", "limit=100")
        assert [b["header"]["height"] for b in listed.json()["items"]] == list(range(blocks))
        built.accept(built.sign("writer-a", "sample.claim", {"item": "replicated"}))
        replica.wait_replayed()
        assert api.get("/sample/claims/replicated").status_code == 200
        # The standby answered those: the node's pool to it holds connections, and the
        # standby server has this ledger's sessions to this database.
        assert standby.pool.checkedin() > 0
        name = make_url(built.settings.read_database_url or "").database
        with replica.standby.connect() as conn:
            sessions = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": name}
            ).scalar_one()
        assert sessions > 0


@pytest.mark.postgres
def test_entries_the_standby_has_not_replayed_are_served_from_the_primary_never_a_404(
    on_replica: LedgerFixture, replica: Replica
) -> None:
    built = on_replica
    built.fill(300, per_block=100)
    replica.wait_replayed()
    old, old_blocks = primary_size_and_blocks(built)
    with TestClient(create_app(built.settings, node=built.node)) as api, replica.paused():
        add_notes(built, 300, per_block=100)
        built.accept(built.sign("writer-a", "sample.claim", {"item": "fresh"}))
        new, blocks = primary_size_and_blocks(built)
        # The standby really lags: the block list (no 404 to fall back on) is its own.
        listed = signed_get(api, built, "/v1/blocks", "limit=100").json()["items"]
        assert len(listed) == old_blocks < blocks
        assert_served_from_primary(api, built, old, new)
        newest = signed_get(api, built, f"/v1/blocks/{blocks - 1}")
        assert newest.status_code == 200, newest.text
        # an app page (Ledger.read_with_fallback) for an entry the standby does not have
        assert api.get("/sample/claims/fresh").status_code == 200
        assert api.get("/sample/claims/never-claimed").status_code == 404
    replica.wait_replayed()
    with TestClient(create_app(built.settings, node=built.node)) as api:
        listed = signed_get(api, built, "/v1/blocks", "limit=100").json()["items"]
        assert len(listed) == blocks  # caught up once replay resumed


@pytest.mark.postgres
def test_standby_lag_never_makes_a_pack_commissioned_a_moment_ago_look_counterfeit(
    replica: Replica, tmp_path: Path
) -> None:
    with database_pair(replica) as (url, standby_url):
        world: BeefWorld = beef_world(tmp_path / "home", url)
        world.node.close()
        settings = Settings(home=tmp_path / "home", database_url=url, read_database_url=standby_url)
        world.node = open_node(settings)
        try:
            replica.wait_replayed()
            with TestClient(create_app(settings, node=world.node)) as api, replica.paused():
                world.commission(3)
                pack = pack_id(GTIN, world.lot, "0001")
                page = api.get(pack.path())
                assert page.status_code == 200, page.text
                view = api.get(pack.path(), headers={"accept": "application/json"})
                assert view.status_code == 200 and view.json()["scans"]["sources"] >= 1
                unknown = api.get(pack_id(GTIN, world.lot, "0009").path())
                assert unknown.status_code == 404  # a code never commissioned is still unknown
        finally:
            world.node.close()


# --- everywhere: a real database as the standby, without a server ------------------------------


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite ledger (the backup API, as of one snapshot)."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)


def test_an_older_copy_as_standby_falls_back_to_the_primary_for_what_it_lacks(
    tmp_path: Path,
) -> None:
    built = make_ledger(tmp_path / "home", None)
    try:
        built.fill(300, per_block=100)
        old, old_blocks = primary_size_and_blocks(built)
        copy = tmp_path / "standby.db"
        sqlite_copy(built.node.home.db_path, copy)
        built = with_standby(built, f"sqlite:///{copy}")
        add_notes(built, 300, per_block=100)
        built.accept(built.sign("writer-a", "sample.claim", {"item": "fresh"}))
        new, blocks = primary_size_and_blocks(built)
        with TestClient(create_app(built.settings, node=built.node)) as api:
            listed = signed_get(api, built, "/v1/blocks", "limit=100").json()["items"]
            assert len(listed) == old_blocks < blocks  # the copy was read
            assert_served_from_primary(api, built, old, new)
            assert api.get("/sample/claims/fresh").status_code == 200
            assert api.get("/sample/claims/never-claimed").status_code == 404
    finally:
        built.close()


def test_a_standby_that_does_not_answer_leaves_the_reads_to_the_primary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = make_ledger(tmp_path / "home", None)
    try:
        built.fill(20, per_block=10)
        # Port 1 on loopback: nothing listens there, the connection is refused at once.
        down = "postgresql+psycopg://postgres:unused@127.0.0.1:1/nothing"
        built = with_standby(built, down)
        size, _ = primary_size_and_blocks(built)
        with TestClient(create_app(built.settings, node=built.node)) as api:
            proof = api.get("/v1/proofs/inclusion", params={"index": 3, "size": size})
            assert proof.status_code == 200, proof.text
            assert api.get("/" + tiles.tile_path(0, 0, size)).status_code == 200
            assert api.get("/v1/members").status_code == 200
        assert "standby read failed" in caplog.text
        # and the next reads do not wait on it again for a while
        assert built.node._standby_retry_at > time.monotonic()
    finally:
        built.close()


def test_the_read_engine_refuses_writes(tmp_path: Path) -> None:
    built = make_ledger(tmp_path / "home", None)
    try:
        assert built.node.read_engine is built.node.engine  # no standby: reads the primary
        # A standby URL that is (by mistake) the primary itself: still never written through.
        built = with_standby(built, f"sqlite:///{built.node.home.db_path}")
        refused = pytest.raises(OperationalError, match=r"readonly|read-only|query_only")
        with refused, built.node.read_engine.begin() as conn:
            conn.execute(text("DELETE FROM blocks"))
        size, _ = primary_size_and_blocks(built)
        assert size > 0
    finally:
        built.close()


@pytest.mark.postgres
def test_the_standby_engine_refuses_writes_even_on_a_primary(tmp_path: Path) -> None:
    url = create_pg_database()
    try:
        built = with_standby(make_ledger(tmp_path / "home", url), url)
        try:
            refused = pytest.raises(DBAPIError, match="read-only transaction")
            with refused, built.node.read_engine.begin() as conn:
                conn.execute(text("DELETE FROM blocks"))
            assert primary_size_and_blocks(built)[0] > 0
        finally:
            built.close()
    finally:
        drop_pg_database(url)


def test_settings_refuse_a_read_url_sealchain_cannot_read() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        Settings(read_database_url="mysql://user@host/db")
    assert Settings(read_database_url="").read_database_url is None
