// The certificate page: the one deposit entry in the bundle, bound to the deposit number of the
// page (its log index) and to the evidence.deposit type, then every fact from its signed body.
import { el, showVerified, t } from "/static/ledger/page.js";
import { VerifyError } from "/static/ledger/verify.js";
import { checkpointTable, depositTable, isGovernance, sha256Hex } from "./evidence.js";

function derive(verified, subject) {
  const mine = verified.entries.filter((entry) => !isGovernance(entry));
  const entry = mine.find((e) => e.index === subject.index);
  if (mine.length !== 1 || !entry || entry.type !== "evidence.deposit") {
    throw new VerifyError(t("the signed entry is not deposit %(number)s", { number: subject.number }));
  }
  enableCompare(entry.body.sha256);
  return {
    nodes: [
      el("section", { id: "deposit" }, el("h2", {}, t("Deposit")), depositTable(entry, verified.members)),
      el("section", { id: "checkpoint" }, el("h2", {}, t("Checkpoint")), checkpointTable(verified.checkpoint)),
    ],
    records: 1,
    banner: { status: "registered", title: t("Registered"), message: " " + t("The depositor signed these hashes, and the ledger includes the entry.") },
    facts: { number: subject.number, org: entry.org, title: entry.body.title, sha256: entry.body.sha256 },
  };
}

function enableCompare(signed) {
  const section = document.getElementById("compare");
  const input = document.getElementById("compare-file");
  const result = document.getElementById("compare-result");
  section.hidden = false;
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const mine = await sha256Hex(await file.arrayBuffer());
    const same = mine === signed;
    result.className = same ? "match" : "mismatch";
    result.dataset.match = String(same);
    result.textContent = same
      ? t("Same file: its SHA-256 is the one the depositor signed.")
      : t("Not the deposited file: its SHA-256 is %(hash)s.", { hash: mine });
  });
}

showVerified(derive);
