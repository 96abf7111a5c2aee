// The certificate page: the one deposit entry in the bundle, bound to the deposit number in the
// address the reader opened (the number is the log index) and to the evidence.deposit type,
// then every fact from its signed body.
import { el, showVerified, t } from "/static/ledger/page.js";
import { VerifyError } from "/static/ledger/verify.js";
import { checkpointTable, depositNumber, depositTable, hashFile, isGovernance } from "./evidence.js";

function derive(verified) {
  // The reader's address, not the server's subject, names the deposit: a server that embeds
  // another deposit's genuine entry under this number fails here.
  const number = decodeURIComponent(location.pathname.split("/").pop());
  const mine = verified.entries.filter((entry) => !isGovernance(entry));
  const entry = mine.length === 1 ? mine[0] : null;
  if (!entry || depositNumber(entry.index) !== number || entry.type !== "evidence.deposit") {
    throw new VerifyError(t("the signed entry is not deposit %(number)s", { number }));
  }
  enableCompare(entry.body.sha256);
  return {
    nodes: [
      el("section", { id: "deposit" }, el("h2", {}, t("Deposit")), depositTable(entry, verified.members)),
      el("section", { id: "checkpoint" }, el("h2", {}, t("Checkpoint")), checkpointTable(verified.checkpoint)),
    ],
    records: 1,
    banner: { status: "registered", title: t("Registered"), message: " " + t("The depositor signed these hashes, and the ledger includes the entry.") },
    facts: { number, org: entry.org, title: entry.body.title, sha256: entry.body.sha256 },
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
    let mine;
    try {
      mine = await hashFile(file, (text) => {
        result.className = "";
        delete result.dataset.match;
        result.textContent = text;
      });
    } catch (err) {
      result.className = "mismatch";
      result.textContent = err.message;
      return;
    }
    const same = mine === signed;
    result.className = same ? "match" : "mismatch";
    result.dataset.match = String(same);
    result.textContent = same
      ? t("Same file: its SHA-256 is the one the depositor signed.")
      : t("Not the deposited file: its SHA-256 is %(hash)s.", { hash: mine });
  });
}

showVerified(derive);
