"""A process's memory as /proc tells it: what the benchmarks report of servers and audits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Memory:
    """Megabytes: resident (VmRSS; it counts the database pages SQLite maps into the process,
    which are the kernel's page cache) and anonymous (RssAnon: the process's own heap)."""

    resident: float
    anonymous: float


def status_kb(pid: int, field_name: str) -> int:
    """A field of /proc/PID/status in kB (VmRSS, RssAnon, VmHWM); 0 where there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_memory(pid: int) -> Memory:
    return Memory(status_kb(pid, "VmRSS") / 1024, status_kb(pid, "RssAnon") / 1024)


def worker_memory(url: str) -> Memory:
    """The memory of the `sealchain serve` worker answering at `url` (its pid from /healthz):
    the figure to read after a load run with one worker."""
    return process_memory(int(httpx.get(url + "/healthz", timeout=10).json()["worker"]))
