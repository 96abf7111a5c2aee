"""Dockerfile and docker-compose.yml, checked without Docker (no engine runs here): the files
parse, every command and option they use exists, their environment names real settings, and
the commands themselves initialise and serve a ledger on PostgreSQL when run on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url

from ledger.config import Settings
from ledger.core.note import parse_note
from ledger.core.policy import LogPolicy
from ledger.core.receipt import witness_cosigners
from ledger.home import Home
from ledger.process import background_server, free_port
from tests.conftest import REQUIRE_PG, create_pg_database, drop_pg_database
from tests.support.server import REPO, SEALCHAIN

COMPOSE = REPO / "docker-compose.yml"
REPLICA_URL = os.environ.get("SEALCHAIN_TEST_PG_REPLICA_URL", "")
DOCKERFILE = REPO / "Dockerfile"
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _interpolate(value: Any) -> Any:
    """Compose's `${VAR:-default}`, with the defaults (what `docker compose up` uses)."""
    if isinstance(value, str):
        return DEFAULTED.sub(lambda m: os.environ.get(m.group(1), m.group(2)), value)
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    return value


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the << merges
    assert isinstance(loaded, dict)
    return _interpolate(loaded)  # type: ignore[no-any-return]


def _sealchain_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").startswith("sealchain")
    }


def _dockerfile_json(instruction: str) -> list[str]:
    """The exec-form arguments of CMD or of HEALTHCHECK ... CMD (continuation lines joined)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith(instruction + " "):
            return list(json.loads(line[line.index("[") :]))
    raise AssertionError(f"no {instruction} in the Dockerfile")


def _help(subcommand: str) -> str:
    done = subprocess.run(
        [SEALCHAIN, subcommand, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"sealchain {subcommand}: {done.stderr}"
    return done.stdout


WITNESSES = ("gacc-shanghai", "bj-internet-court", "pboc")


def _cosigners(url: str, policy: LogPolicy) -> list[str]:
    return witness_cosigners(parse_note(httpx.get(url + "/checkpoint").text), policy)


def _assert_runs_here(command: list[str]) -> None:
    assert command[0] == "sealchain", command
    usage = _help(command[1])
    for option in (arg for arg in command[2:] if arg.startswith("--")):
        assert option in usage, f"sealchain {command[1]} has no option {option}"


def test_compose_file_wires_postgres_init_and_api() -> None:
    compose = _compose()
    services = compose["services"]
    witnesses = {f"witness-{name}" for name in WITNESSES}
    assert set(services) == {"postgres", "postgres-standby", "init", "api", "api-read", *witnesses}
    urls = Settings(witness_urls=services["api"]["environment"]["SEALCHAIN_WITNESS_URLS"])
    for name in WITNESSES:
        command = services[f"witness-{name}"]["command"]
        assert command[command.index("--name") + 1] == name
        assert command[command.index("--log") + 1] == "http://api:8000"
        port = command[command.index("--port") + 1]
        assert urls.witness_url_overrides()[name] == f"http://witness-{name}:{port}"
        assert services[f"witness-{name}"]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert "8000:8000" in services["api"]["ports"]
    assert set(compose["volumes"]) == {"pgdata", "pgstandby", "home"}
    postgres_env = services["postgres"]["environment"]
    for name in ("init", "api", "api-read"):
        env = services[name]["environment"]
        assert env["SEALCHAIN_HOME"] == "/data"
        assert "home:/data" in services[name]["volumes"]
        url = env["SEALCHAIN_DATABASE_URL"]
        assert url == (
            f"postgresql+psycopg://{postgres_env['POSTGRES_USER']}:"
            f"{postgres_env['POSTGRES_PASSWORD']}@postgres:5432/{postgres_env['POSTGRES_DB']}"
        )


def test_the_standby_streams_from_the_primary_and_api_read_reads_it() -> None:
    services = _compose()["services"]
    primary, standby = services["postgres"], services["postgres-standby"]
    for script in ("allow-replication.sh", "standby.sh"):
        path = REPO / "deploy" / "postgres" / script
        assert os.access(path, os.X_OK), path
        assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    assert any("allow-replication.sh:/docker-entrypoint-initdb.d/" in v for v in primary["volumes"])
    assert standby["entrypoint"] == ["/standby.sh"]
    assert "./deploy/postgres/standby.sh:/standby.sh:ro" in standby["volumes"]
    env = standby["environment"]
    assert env["PRIMARY_HOST"] == "postgres"
    assert env["POSTGRES_USER"] == primary["environment"]["POSTGRES_USER"]
    assert env["PGPASSWORD"] == primary["environment"]["POSTGRES_PASSWORD"]
    assert standby["depends_on"]["postgres"]["condition"] == "service_healthy"
    read = services["api-read"]["environment"]
    primary_url = read["SEALCHAIN_DATABASE_URL"]
    assert read["SEALCHAIN_READ_DATABASE_URL"] == primary_url.replace(
        "@postgres:", "@postgres-standby:"
    )
    assert services["api-read"]["depends_on"]["postgres-standby"]["condition"] == (
        "service_healthy"
    )


def test_every_sealchain_command_and_option_exists() -> None:
    commands = [service["command"] for service in _sealchain_services().values()]
    commands.append(_dockerfile_json("CMD"))
    assert len(commands) == 7
    for command in commands:
        _assert_runs_here(command)


def test_environment_names_real_settings() -> None:
    fields = {f"SEALCHAIN_{name.upper()}" for name in Settings.model_fields}
    for service in _sealchain_services().values():
        assert set(service["environment"]) <= fields
        values = {
            name.removeprefix("SEALCHAIN_").lower(): value
            for name, value in service["environment"].items()
        }
        Settings(**values)  # and each value is one the setting accepts
    env_line = DOCKERFILE.read_text(encoding="utf-8").split("SEALCHAIN_HOME=")[1].split()[0]
    assert env_line == "/data"


def test_dockerfile_copies_what_exists_and_installs_the_package() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert text.count("FROM python:3.11") == 1
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"COPY {source}: no such path"
    assert "RUN pip install ." in text
    assert "USER sealchain" in text


@pytest.mark.postgres
def test_compose_commands_initialise_and_serve_on_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEALCHAIN_EXTRA_APPS")  # the image has only the installed apps
    services = _sealchain_services()
    database_url = create_pg_database()
    env = {
        **os.environ,
        "SEALCHAIN_HOME": str(tmp_path / "data"),
        "SEALCHAIN_DATABASE_URL": database_url,
    }
    try:
        init = [SEALCHAIN, *services["init"]["command"][1:]]
        first = subprocess.run(init, env=env, capture_output=True, text=True, check=False)
        assert first.returncode == 0, first.stdout + first.stderr
        again = subprocess.run(init, env=env, capture_output=True, text=True, check=False)
        assert again.returncode == 0, again.stdout + again.stderr  # compose re-runs it on up
        assert "left as it is" in again.stdout

        port = free_port()
        serve = [SEALCHAIN, *services["api"]["command"][1:]]
        serve[serve.index("--port") + 1] = str(port)
        serve[serve.index("--host") + 1] = "127.0.0.1"
        ports = {name: free_port() for name in WITNESSES}
        env["SEALCHAIN_WITNESS_URLS"] = ",".join(
            f"{name}=http://127.0.0.1:{p}" for name, p in ports.items()
        )
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(
                background_server(serve, port, env=env, log=tmp_path / "api.log")
            )
            for name, witness_port in ports.items():
                command = [SEALCHAIN, *services[f"witness-{name}"]["command"][1:]]
                command[command.index("--port") + 1] = str(witness_port)
                command[command.index("--host") + 1] = "127.0.0.1"
                command[command.index("--log") + 1] = url
                stack.enter_context(
                    background_server(
                        command, witness_port, env=env, log=tmp_path / f"{name}.log", ready_path="/"
                    )
                )
            health = httpx.get(url + "/healthz").json()
            assert health["status"] == "ok" and health["size"] >= 1
            policy = Home(tmp_path / "data").log_policy()
            deadline = time.monotonic() + 60
            while not policy.quorum_met(set(_cosigners(url, policy))):
                assert time.monotonic() < deadline, "the witnesses did not cosign"
                time.sleep(0.2)
            assert policy.quorum == "witnesses"
            probe = _dockerfile_json("HEALTHCHECK --interval=10s --timeout=3s")
            probe = [p.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for p in probe]
            assert probe[0] == "python"
            checked = subprocess.run(
                [str(Path(SEALCHAIN).with_name("python")), *probe[1:]], check=False
            )
            assert checked.returncode == 0

            # api-read: its own node, reading from the standby (the local streaming replica).
            if not REPLICA_URL:
                if REQUIRE_PG:
                    pytest.fail("SEALCHAIN_REQUIRE_POSTGRES=1 but no SEALCHAIN_TEST_PG_REPLICA_URL")
                return
            read_port = free_port()
            serve_read = [SEALCHAIN, *services["api-read"]["command"][1:]]
            serve_read[serve_read.index("--port") + 1] = str(read_port)
            serve_read[serve_read.index("--host") + 1] = "127.0.0.1"
            database = make_url(database_url).database
            read_env = {
                **env,
                "SEALCHAIN_READ_DATABASE_URL": make_url(REPLICA_URL)
                .set(database=database)
                .render_as_string(hide_password=False),
            }
            read_url = stack.enter_context(
                background_server(serve_read, read_port, env=read_env, log=tmp_path / "read.log")
            )
            size = int(parse_note(httpx.get(url + "/checkpoint").text).text.splitlines()[1])
            path = f"/tile/0/000.p/{size}"
            deadline = time.monotonic() + 60
            while (answer := httpx.get(read_url + path)).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.2)
            assert answer.content == httpx.get(url + path).content
    finally:
        drop_pg_database(database_url)
