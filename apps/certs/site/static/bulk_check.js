// The bulk check page: send the chosen CSV as it is to POST /v1/certs/bulk/verify.csv and show
// the CSV the server answers, row by row, with a summary and the answer to download. The file
// is refused here, before sending, when it is over the server's limit.
import { el, embedded, formatNumber, t } from "/static/ledger/page.js";
import { setMessages } from "/static/ledger/verify.js";

setMessages(embedded("messages") || {});

const form = document.getElementById("bulk");
const progress = document.getElementById("progress");
const answer = document.getElementById("answer");
const STATUSES = () => ({
  valid: t("valid"), suspended: t("suspended"), revoked: t("revoked"), expired: t("expired"),
  "not-yet-valid": t("not yet valid"), "non-compliant": t("non-compliant"), unknown: t("unknown"),
});
// The row errors the bulk route writes (apps/certs/public_api.py), in the reader's language.
const ROW_ERRORS = () => ({
  "the date is not YYYY-MM-DD": t("the date is not YYYY-MM-DD"),
  "no such certificate": t("no such certificate"),
});

// The server writes its CSV with Python's csv module: fields with a comma, quote or newline
// are quoted, quotes doubled. This reads exactly that.
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

function show(csvText) {
  const rows = parseCsv(csvText).slice(1);  // after the header row
  const counts = {};
  let errors = 0;
  const table = document.getElementById("rows");
  table.replaceChildren(
    el("thead", {}, el("tr", {}, [t("Row"), t("Certificate"), t("Date"), t("Status"), t("Since"), t("Error")].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map(([row, number, day, status, since, error]) => {
      if (error) errors++;
      else counts[status] = (counts[status] || 0) + 1;
      return el("tr", { "data-row": row, "data-status": status || "error", class: error ? "row-error" : null },
        el("td", {}, row), el("td", {}, number), el("td", {}, day),
        el("td", {}, status ? STATUSES()[status] || status : ""), el("td", {}, since), el("td", {}, ROW_ERRORS()[error] || error));
    })));
  const parts = Object.entries(counts).map(([status, n]) => formatNumber(n, 0) + " " + (STATUSES()[status] || status));
  if (errors) parts.push(t("%(n)s with an error", { n: formatNumber(errors, 0) }));
  document.getElementById("summary").textContent =
    t("%(n)s rows", { n: formatNumber(rows.length, 0) }) + (parts.length ? ": " + parts.join(", ") : "");
  const link = document.getElementById("download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csvText], { type: "text/csv" }));
  answer.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("csv").files[0];
  answer.hidden = true;
  if (!file) return;
  const limit = Number(form.dataset.maxBytes);
  if (file.size > limit) {
    progress.textContent = t("The file is %(size)s bytes; the limit is %(limit)s. Split it and check each part.",
      { size: formatNumber(file.size, 0), limit: formatNumber(limit, 0) });
    return;
  }
  progress.textContent = t("Checking…");
  try {
    const response = await fetch("/v1/certs/bulk/verify.csv", {
      method: "POST", headers: { "Content-Type": "text/csv" }, body: await file.arrayBuffer(),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      progress.textContent = t("The server refused the file: %(reason)s", { reason: [problem.title, problem.detail].filter(Boolean).join(": ") || response.status });
      return;
    }
    show(await response.text());
    progress.textContent = "";
  } catch (error) {
    progress.textContent = t("The server could not be reached: %(reason)s", { reason: error.message });
  }
});
