// What the evidence pages show, derived from verified entries alone (the Python twin of the
// binding is apps/evidence/cli.py, which checks each receipt against the file's hash).
import { el, formatNumber, t, timeElement } from "/static/ledger/page.js";
import { VerifyError, b64encode } from "/static/ledger/verify.js";

// The deposit number is the log index: verifying the entry's inclusion verifies its number.
export function depositNumber(index) {
  return "EV-" + String(index).padStart(8, "0");
}

const CATEGORIES = () => ({
  work: t("registered work"),
  evidence: t("evidence"),
  "appraisal-report": t("appraisal report"),
  judgment: t("judgment"),
});
const METHODS = () => ({
  file: t("file deposited by its holder"),
  "web-page": t("web page captured by the platform"),
  "screen-recording": t("screen recording"),
  upload: t("upload"),
});

export function isGovernance(entry) {
  return entry.type.startsWith("ledger.");
}

// A verified entry as a registration of `sha256`: a deposit whose signed SHA-256 is it, or an
// RFC 3161 stamp of it. Anything else in the bundle is not about this file, and fails the page.
export function registrationOf(entry, sha256) {
  const body = entry.body;
  if (entry.type === "evidence.deposit" && body.sha256 === sha256) return { kind: "deposit", entry };
  if (entry.type === "evidence.stamp" && body.algorithm === "sha256" && body.digest === sha256) {
    return { kind: "stamp", entry };
  }
  throw new VerifyError(t("entry %(index)s is not a registration of this file", { index: entry.index }));
}

function party(members, org) {
  const member = members.get(org);
  return member ? member.name + " (" + org + ")" : org;
}

function row(label, value, mono = false) {
  return el("tr", {}, el("th", { scope: "row" }, label), el("td", mono ? { class: "mono" } : {}, value));
}

// The facts of a deposit as a table, every cell from the signed body or the verified directory.
export function depositTable(entry, members) {
  const body = entry.body;
  const capture = body.capture;
  const member = members.get(entry.org);
  const rows = [
    row(t("Deposit number"), depositNumber(entry.index)),
    row(t("Title"), body.title),
    row(t("Category"), CATEGORIES()[body.category] || body.category),
    row(t("Depositor"), party(members, entry.org)),
    row(t("Filing number"), member && member.filing ? member.filing : "-"),
    row(t("Media type"), body.mediaType, true),
    row(t("Size"), t("%(bytes)s bytes", { bytes: formatNumber(body.size, 0) })),
    row("SHA-256", body.sha256, true),
  ];
  if (body.sha3_256) rows.push(row("SHA3-256", body.sha3_256, true));
  if (body.iscc) rows.push(row(t("ISCC text code"), body.iscc, true));
  rows.push(row(t("Capture method"), METHODS()[capture.method] || capture.method));
  if (capture.sourceUrl) rows.push(row(t("Source URL"), capture.sourceUrl, true));
  rows.push(
    row(t("Captured at (as signed)"), timeElement(capture.capturedAt)),
    row(t("Tool"), capture.tool),
    row(t("Operator"), capture.operator),
    row(t("Submitted at (signed)"), timeElement(entry.envelope.ts)),
    row(t("Transaction id"), entry.txId, true),
  );
  return el("table", { class: "facts" }, rows);
}

export function stampTable(entry, members) {
  return el("table", { class: "facts" },
    row(t("Deposit number"), depositNumber(entry.index)),
    row(t("Kind"), t("RFC 3161 timestamp request")),
    row(t("Recorded by"), party(members, entry.org)),
    row("SHA-256", entry.body.digest, true),
    row(t("Submitted at (signed)"), timeElement(entry.envelope.ts)),
  );
}

export function checkpointTable(checkpoint) {
  return el("table", { class: "facts" },
    row(t("Log"), checkpoint.origin, true),
    row(t("Tree size"), String(checkpoint.size)),
    row(t("Root"), checkpoint.root instanceof Uint8Array ? b64encode(checkpoint.root) : String(checkpoint.root), true),
    row(t("Log key"), checkpoint.logId, true),
    row(t("Witness cosignatures"), checkpoint.cosigners.length ? checkpoint.cosigners.join(", ") : t("none (quorum none)")),
  );
}

export async function sha256Hex(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
