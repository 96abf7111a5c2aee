// The check page: hash the chosen file here (WebCrypto), ask the ledger for the proof bundle of
// that hash's registrations, verify it, and show only the signed registrations of this hash.
// The file is read into this page's memory and nowhere else; only its SHA-256 is sent.
import { el, embedded, showVerified, t, tn } from "/static/ledger/page.js";
import { setMessages, showVerdict } from "/static/ledger/verify.js";
import {
  checkpointTable, depositNumber, depositTable, hashFile, isGovernance, registrationOf, stampTable,
} from "./evidence.js";

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
    : { status: "none", title: t("No registration"), message: " " + t("The server knows of no registration of this file: it is not a file that was deposited, or it was never deposited. Your browser checks every registration the server shows, but cannot check that it showed them all.") };
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

// Back to "checking": nothing from an earlier file stays on the page while this one is checked.
function reset(text) {
  const verified = document.getElementById("verified");
  verified.replaceChildren();
  verified.hidden = true;
  document.getElementById("status").hidden = true;
  const verdict = document.getElementById("verdict");
  verdict.textContent = text;
  verdict.className = "verdict pending";
  verdict.dataset.verdict = "waiting";
}

async function check(file) {
  const say = (text) => { progress.textContent = text; };
  reset(t("Checking the signed records in your browser…"));
  hashLine.hidden = true;
  try {
    const sha256 = await hashFile(file, say);
    hashLine.textContent = "SHA-256 " + sha256;
    hashLine.hidden = false;
    say(t("Asking the ledger for registrations of this hash…"));
    const answer = await fetch("/v1/evidence/verify", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ sha256 }),
    });
    if (!answer.ok) throw new Error(t("The ledger did not answer (HTTP %(status)s).", { status: answer.status }));
    const body = await answer.json();
    say("");
    await showVerified(derive, body.verification, { sha256 });
  } catch (err) {
    say("");
    showVerdict(false, t("NOT VERIFIED: %(reason)s", { reason: err.message }));
  }
}

// One check at a time, so that an earlier file's verdict never lands after a later one's; a
// file chosen while another is checked replaces any that was waiting.
let chosen = 0;
let running = Promise.resolve();
function choose(file) {
  const mine = ++chosen;
  running = running.then(() => (mine === chosen ? check(file) : null));
}

setMessages(embedded("messages") || {});
reset(t("Choose a file: the verdict appears here."));
input.addEventListener("change", () => input.files[0] && choose(input.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) choose(event.dataTransfer.files[0]);
});
