"""Prometheus metrics of one API process (each worker process serves its own)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ledger.core.block import BlockHeader


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.entries = Counter(
            "sealchain_entries_committed",
            "Entries committed by this process (or, behind a block writer, for it)",
            registry=self.registry,
        )
        self.blocks = Histogram(
            "sealchain_block_entries",
            "Entries per committed block (behind a block writer: per block carrying this "
            "process's entries)",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
            registry=self.registry,
        )
        self.latency = Histogram(
            "sealchain_request_seconds",
            "Request latency by route",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.rejections = Counter(
            "sealchain_rejections",
            "Requests refused, by problem code",
            ["code"],
            registry=self.registry,
        )

    def block_committed(self, header: BlockHeader) -> None:
        self.entries.inc(header.count)
        self.blocks.observe(header.count)

    def blocks_answered(self, blocks: Mapping[int, int], accepted: int) -> None:
        """A block writer's answer: `accepted` of this process's entries landed in `blocks`
        (entries in each, by height). A block is observed once per answer naming it, so one
        that carried two workers' entries is observed by both."""
        self.entries.inc(accepted)
        for count in blocks.values():
            self.blocks.observe(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
