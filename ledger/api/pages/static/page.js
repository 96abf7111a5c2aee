// Page helpers every app's page script builds on. The flow of a verified page: read the JSON
// the server embedded, verify it with verify.js, let the app derive what to show from the
// verified entries alone, and only then put it on the page. If anything fails, nothing the
// server sent is shown as a fact: the verdict says what failed.
import { setMessages, showVerdict, t, tn, verifyBundle } from "./verify.js";

export { t, tn };

export function embedded(id) {
  const holder = document.getElementById(id);
  return holder ? JSON.parse(holder.textContent) : null;
}

export function language() {
  return document.documentElement.lang || "en";
}

// Elements are built with text nodes only (never innerHTML), so signed text is shown as it was
// signed, whatever characters it holds.
function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function el(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

export function svgEl(tag, attributes = {}, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);
}

// A signed ISO 8601 time, shown in the reader's language at the offset it was signed with
// (the time at the place it happened); the signed text stays in the element's datetime.
export function formatTime(iso, offset) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat(language(), { ...options, timeZone: offset || "UTC" }).format(moment);
  } catch {
    return new Intl.DateTimeFormat(language(), { ...options, timeZone: "UTC" }).format(moment) + " UTC";
  }
}

export function formatDate(day) {
  const moment = new Date(day + "T00:00:00Z");
  if (Number.isNaN(moment.getTime())) return day;
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeZone: "UTC" }).format(moment);
}

export function formatNumber(value, digits = 1) {
  return new Intl.NumberFormat(language(), { maximumFractionDigits: digits }).format(value);
}

export function timeElement(iso, offset) {
  return el("time", { datetime: iso }, formatTime(iso, offset));
}

function verdictText(checkpoint, records) {
  const text = tn(
    "Verified in your browser: %(n)s signed record in checkpoint %(size)s of log key %(key)s.",
    "Verified in your browser: %(n)s signed records in checkpoint %(size)s of log key %(key)s.",
    records,
    { size: checkpoint.size, key: checkpoint.logId },
  );
  const witnesses = checkpoint.cosigners.length;
  if (!witnesses) return text;
  return text + " " + tn("Cosigned by %(n)s witness.", "Cosigned by %(n)s witnesses.", witnesses);
}

function showBanner(banner) {
  const header = document.getElementById("status");
  if (!header || !banner) return;
  header.className = "banner status-" + banner.status;
  header.dataset.status = banner.status;
  header.replaceChildren(el("strong", {}, banner.title), banner.message);
  header.hidden = false;
}

// `derive(verified, subject)` is the app's: it binds every verified entry to the page's subject
// (throwing a VerifyError for one that is not about it) and returns {nodes, records, banner,
// facts}: the elements to show, how many signed records they rest on, the status banner, and
// the derived facts as plain data (kept on globalThis.sealchain for tests and the curious).
// A page that fetches its bundle later (after the reader picks a file, say) passes it and its
// subject in; by default both are the ones the server embedded in the page.
export async function showVerified(derive, bundle = embedded("proof-data"), subject = embedded("subject")) {
  setMessages(embedded("messages") || {});
  const target = document.getElementById("verified");
  try {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error(t("This browser cannot check signatures (it has no WebCrypto): please try another browser."));
    }
    const verified = await verifyBundle(bundle);
    const shown = await derive(verified, subject);
    target.replaceChildren(...shown.nodes);
    target.hidden = false;
    showBanner(shown.banner);
    globalThis.sealchain = { facts: shown.facts };
    showVerdict(true, verdictText(verified.checkpoint, shown.records));
  } catch (err) {
    target.replaceChildren();
    target.hidden = true;
    showVerdict(false, t("NOT VERIFIED: %(reason)s", { reason: err.message }));
  }
}
