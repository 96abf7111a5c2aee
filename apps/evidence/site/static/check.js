// The check page: hash the chosen file here (WebCrypto), ask the ledger for the proof bundle of
// that hash's registrations, verify it, and show only the signed registrations of this hash.
// The file is read into this page's memory and nowhere else; only its SHA-256 is sent.
import { el, embedded, showVerified, t, tn } from "/static/ledger/page.js";
import { setMessages, showVerdict } from "/static/ledger/verify.js";
import {
  checkpointTable, depositNumber, depositTable, isGovernance, registrationOf, sha256Hex, stampTable,
} from "./evidence.js";

const LIMIT = 512 * 1024 * 1024; // WebCrypto digests a whole buffer: larger files would not fit
const input = document.getElementById("file");
const drop = document.getElementById("drop");
const progress = document.getElementById("progress");
const hashLine = document.getElementById("hash");

function derive(verified, subject) {
  const registrations = verified.entries
    .filter((entry) => !isGovernance(entry))
    .map((entry) => registrationOf(entry, subject.sha256));
  const members = verified.members;
  const nodes = registrations.map(({ kind, entry }) =>
    el("section", { class: "registration", "data-number": depositNumber(entry.index) },
      el("h2", {}, el("a", kind === "deposit" ? { href: "/evidence/" + depositNumber(entry.index) } : {}, depositNumber(entry.index))),
      kind === "deposit" ? depositTable(entry, members) : stampTable(entry, members)));
  nodes.push(el("section", { id: "checkpoint" }, el("h2", {}, t("Checkpoint")), checkpointTable(verified.checkpoint)));
  const found = registrations.length;
  const banner = found
    ? { status: "registered", title: t("Registered"), message: " " + tn(
      "This file was registered %(n)s time; the earliest registration comes first.",
      "This file was registered %(n)s times; the earliest registration comes first.", found) }
    : { status: "none", title: t("No registration"), message: " " + t("No registration of this file is on the ledger: it is not the file that was deposited, or it was never deposited.") };
  return {
    nodes,
    records: found,
    banner,
    facts: {
      sha256: subject.sha256,
      registrations: registrations.map(({ kind, entry }) => ({
        number: depositNumber(entry.index), kind, org: entry.org, title: entry.body.title || null,
      })),
    },
  };
}

async function check(file) {
  hashLine.hidden = true;
  if (file.size > LIMIT) {
    progress.textContent = t("This file is over 512 MiB: your browser cannot hash it here. Use `sealchain evidence verify FILE` instead.");
    return;
  }
  progress.textContent = t("Computing the SHA-256 of %(name)s in your browser…", { name: file.name });
  const sha256 = await sha256Hex(await file.arrayBuffer());
  hashLine.textContent = "SHA-256 " + sha256;
  hashLine.hidden = false;
  progress.textContent = t("Asking the ledger for registrations of this hash…");
  const answer = await fetch("/v1/evidence/verify", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ sha256 }),
  });
  if (!answer.ok) {
    showVerdict(false, t("The ledger did not answer (HTTP %(status)s).", { status: answer.status }));
    progress.textContent = "";
    return;
  }
  const body = await answer.json();
  progress.textContent = "";
  await showVerified(derive, body.verification, { sha256 });
}

setMessages(embedded("messages") || {});
showVerdict(true, t("Choose a file: the verdict appears here."));
document.getElementById("verdict").dataset.verdict = "waiting";
input.addEventListener("change", () => input.files[0] && check(input.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) check(event.dataTransfer.files[0]);
});
