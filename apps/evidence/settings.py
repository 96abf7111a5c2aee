"""The evidence app's settings, read from the environment like the ledger's (prefix
SEALCHAIN_EVIDENCE_): which member runs the platform, and who the TSA answers."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class EvidenceSettings:
    # The member that runs the preservation platform: it signs PDF certificates and records
    # the hashes its RFC 3161 service stamps (its key must be in the serving node's home).
    platform: str = "evidence-platform"
    # True: only signed member requests get timestamps; False (the demo): anyone, rate-limited.
    tsa_members_only: bool = False
    tsa_per_minute: int = 60

    @classmethod
    def from_env(cls) -> EvidenceSettings:
        env = os.environ
        return cls(
            platform=env.get("SEALCHAIN_EVIDENCE_PLATFORM", cls.platform),
            tsa_members_only=env.get("SEALCHAIN_EVIDENCE_TSA_MEMBERS_ONLY", "").lower()
            in ("1", "true", "yes"),
            tsa_per_minute=int(env.get("SEALCHAIN_EVIDENCE_TSA_PER_MINUTE", cls.tsa_per_minute)),
        )
