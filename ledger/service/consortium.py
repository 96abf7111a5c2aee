"""Consortium set-up: the demo consortium (docs/architecture.md §5) and a signed genesis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.core.envelope import Envelope, sign_envelope
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.service.membership import ADMIN_ROLE


@dataclass(frozen=True)
class OrgPlan:
    org: str
    name: str
    roles: tuple[str, ...]
    filing: str = ""


@dataclass
class ConsortiumPlan:
    consortium: str
    namespace: (
        str  # key names are <namespace>/org/<org>, <namespace>/log, <namespace>/witness/<org>
    )
    admins: list[str]
    orgs: list[OrgPlan]
    witnesses: list[str] = field(default_factory=list)
    quorum: int = 0
    witness_urls: dict[str, str] = field(default_factory=dict)  # where each takes checkpoints

    @property
    def origin(self) -> str:
        return f"{self.namespace}/log"

    def org_key_name(self, org: str) -> str:
        return f"{self.namespace}/org/{org}"

    def witness_key_name(self, org: str) -> str:
        return f"{self.namespace}/witness/{org}"


def _filing(n: int) -> str:
    # Shaped like the Cyberspace Administration's blockchain service filing numbers.
    return f"京网信备{11010819120000 + n}号"


DEMO_ORGS = [
    OrgPlan("cac-registry", "Consortium registry (admin)", (ADMIN_ROLE,)),
    OrgPlan("au-meatworks", "Queensland meatworks, est. 1234", ("beef.processor",)),
    OrgPlan("au-exporter", "Australian beef exporter", ("beef.exporter",)),
    OrgPlan("reefer-line", "Reefer container shipping line", ("beef.carrier",)),
    OrgPlan("gacc-shanghai", "GACC Shanghai port inspection", ("beef.customs",)),
    OrgPlan("sh-importer", "Shanghai meat importer", ("beef.importer",)),
    OrgPlan("retail-a", "Retailer A, Shanghai", ("beef.retailer",)),
    OrgPlan("retail-b", "Retailer B, Shanghai", ("beef.retailer",)),
    OrgPlan("retail-c", "Retailer C, Hangzhou", ("beef.retailer",)),
    OrgPlan("samr", "State Administration for Market Regulation", ("beef.regulator",)),
    OrgPlan("evidence-platform", "Evidence notarization platform", ("evidence.platform",)),
    OrgPlan("hz-notary", "Hangzhou notary office", ("evidence.notary",)),
    OrgPlan("hz-internet-court", "Hangzhou Internet Court", ("evidence.court",)),
    OrgPlan("bj-internet-court", "Beijing Internet Court", ("evidence.court",)),
    OrgPlan("author-li", "Author Li (rights holder)", ("evidence.party",)),
    OrgPlan("site-x", "Website X (respondent)", ("evidence.party",)),
    OrgPlan("forensic-center", "Judicial forensic center", ("evidence.appraisal",)),
    OrgPlan("pboc", "People's Bank of China", ("certs.authority",)),
    OrgPlan("nfcc", "National financial certification center", ("certs.body",)),
    OrgPlan("bctc", "Bank card test center", ("certs.body", "certs.lab")),
    OrgPlan("lab-one", "Accredited test lab one", ("certs.lab",)),
    OrgPlan("pos-maker", "POS terminal maker", ("certs.manufacturer",)),
    OrgPlan("qr-terminal-maker", "QR payment terminal maker", ("certs.manufacturer",)),
]


def demo_plan() -> ConsortiumPlan:
    orgs = [OrgPlan(o.org, o.name, o.roles, _filing(i)) for i, o in enumerate(DEMO_ORGS, 1)]
    return ConsortiumPlan(
        consortium="sealchain-demo",
        namespace="sealchain.demo",
        admins=["cac-registry"],
        orgs=orgs,
        witnesses=["gacc-shanghai", "bj-internet-court", "pboc"],
        quorum=0,  # 2 of 3 once witnesses run; until then no cosignature is required
    )


DEMO_WITNESS_PORT = 8101  # gacc-shanghai; bj-internet-court and pboc on the next two


def demo_witness_plan(
    host: str = "127.0.0.1", first_port: int = DEMO_WITNESS_PORT
) -> ConsortiumPlan:
    """The demo consortium with its three witnesses running: 2 of 3 must cosign (DESIGN 4)."""
    plan = demo_plan()
    plan.quorum = 2
    plan.witness_urls = {w: f"http://{host}:{first_port + i}" for i, w in enumerate(plan.witnesses)}
    return plan


def single_admin_plan(namespace: str, admin: str) -> ConsortiumPlan:
    return ConsortiumPlan(
        consortium=namespace,
        namespace=namespace,
        admins=[admin],
        orgs=[OrgPlan(admin, admin, (ADMIN_ROLE,))],
    )


@dataclass
class ConsortiumKeys:
    log: Signer
    orgs: dict[str, Signer]
    witnesses: dict[str, Signer]


def generate_keys(plan: ConsortiumPlan) -> ConsortiumKeys:
    return ConsortiumKeys(
        log=Signer.generate(plan.origin),
        orgs={o.org: Signer.generate(plan.org_key_name(o.org)) for o in plan.orgs},
        witnesses={
            w: Signer.generate(plan.witness_key_name(w), SIG_COSIGNATURE_V1) for w in plan.witnesses
        },
    )


def genesis_body(plan: ConsortiumPlan, keys: ConsortiumKeys) -> dict[str, Any]:
    return {
        "consortium": plan.consortium,
        "origin": plan.origin,
        "log": keys.log.vkey,
        "admins": plan.admins,
        "members": [
            {
                "org": o.org,
                "name": o.name,
                "roles": list(o.roles),
                "vkeys": [keys.orgs[o.org].vkey],
                "filing": o.filing,
            }
            for o in plan.orgs
        ],
        "witnesses": [
            {"org": w, "name": w, "vkey": keys.witnesses[w].vkey} for w in plan.witnesses
        ],
        "quorum": plan.quorum,
    }


def genesis_envelope(plan: ConsortiumPlan, keys: ConsortiumKeys) -> Envelope:
    admin = plan.admins[0]
    return sign_envelope(
        keys.orgs[admin], type="ledger.genesis", org=admin, body=genesis_body(plan, keys)
    )


def policy_text(plan: ConsortiumPlan, keys: ConsortiumKeys, *, quorum: int | None = None) -> str:
    """The C2SP tlog-policy for this consortium (`quorum none` while no witness runs)."""
    wanted = plan.quorum if quorum is None else quorum
    lines = [f"# Trust policy of {plan.consortium}: c2sp.org/tlog-policy", f"log {keys.log.vkey}"]
    lines += [
        " ".join(filter(None, ("witness", w, keys.witnesses[w].vkey, plan.witness_urls.get(w))))
        for w in plan.witnesses
    ]
    if wanted and plan.witnesses:
        lines.append(f"group witnesses {wanted} {' '.join(plan.witnesses)}")
        lines.append("quorum witnesses")
    else:
        lines.append("quorum none")
    return "\n".join(lines) + "\n"
