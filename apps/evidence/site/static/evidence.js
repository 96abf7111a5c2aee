// What the evidence pages show, derived from verified entries alone (the Python twin of the
// binding is apps/evidence/cli.py, which checks each receipt against the file's hash).
import { el, formatNumber, language, t } from "/static/ledger/page.js";
import { VerifyError, b64encode } from "/static/ledger/verify.js";

// WebCrypto digests a whole buffer at once: a larger file would not fit in the page's memory.
export const LIMIT = 512 * 1024 * 1024;

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

// A time as its signer wrote it ("2026-03-01T09:30:00+08:00"), shown in the reader's language at
// the signer's own offset, to the second and with the offset named; the signed text stays in
// the element's datetime (and its tooltip).
export function signedTime(iso) {
  const found = /(Z|([+-])([0-9]{2}):([0-9]{2}))$/.exec(iso);
  const moment = Date.parse(iso);
  if (!found || Number.isNaN(moment)) return el("time", { datetime: iso }, iso);
  const minutes = found[1] === "Z" ? 0 : (found[2] === "-" ? -1 : 1) * (60 * +found[3] + +found[4]);
  const local = new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" })
    .format(new Date(moment + minutes * 60000));
  const zone = found[1] === "Z" ? "UTC" : "UTC" + found[1];
  return el("time", { datetime: iso, title: iso }, local + " (" + zone + ")");
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
    row(t("Captured at (as signed)"), signedTime(capture.capturedAt)),
    row(t("Tool"), capture.tool),
    row(t("Operator"), capture.operator),
    row(t("Submitted at (signed)"), signedTime(entry.envelope.ts)),
    row(t("Transaction id"), entry.txId, true),
  );
  return el("table", { class: "facts" }, rows);
}

export function stampTable(entry, members) {
  return el("table", { class: "facts" },
    row(t("Registration number"), depositNumber(entry.index)),
    row(t("Kind"), t("RFC 3161 timestamp request")),
    row(t("Recorded by"), party(members, entry.org)),
    row("SHA-256", entry.body.digest, true),
    row(t("Submitted at (signed)"), signedTime(entry.envelope.ts)),
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

// The SHA-256 of a file the reader chose, computed here; `say` shows what is happening. Throws
// an Error with a sentence for the reader if the file is too large or cannot be read.
export async function hashFile(file, say) {
  if (file.size > LIMIT) {
    throw new Error(t("%(name)s is over 512 MiB: your browser cannot hash it here. Hash it with `sealchain evidence verify FILE` instead.", { name: file.name }));
  }
  say(t("Computing the SHA-256 of %(name)s (%(size)s bytes) in your browser…", { name: file.name, size: formatNumber(file.size, 0) }));
  let buffer;
  try {
    buffer = await file.arrayBuffer();
  } catch {
    throw new Error(t("Your browser could not read %(name)s.", { name: file.name }));
  }
  return sha256Hex(buffer);
}
