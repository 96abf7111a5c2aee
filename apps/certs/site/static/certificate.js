// The certificate page: the application the certificate answers and its lab reports, the issue
// entry whose signed credential names this certificate, and every status or change entry about
// it by the same body, all verified in this browser; the status for today is computed here
// from them (status.js), never taken from the server.
import { el, formatDate, showVerified, t } from "/static/ledger/page.js";
import { VerifyError } from "/static/ledger/verify.js";
import { statusOn } from "./status.js";

const KINDS = () => ({
  "surveil-pass": t("surveillance passed"),
  "surveil-fail": t("surveillance failed"),
  suspend: t("suspended"),
  reinstate: t("reinstated"),
  revoke: t("revoked"),
  change: t("changed"),
});
const STATUS = () => ({
  valid: t("Valid"),
  suspended: t("Suspended"),
  revoked: t("Revoked"),
  expired: t("Expired"),
  "not-yet-valid": t("Not yet valid"),
  "non-compliant": t("Non-compliant: a failed surveillance was not acted on"),
});
const EVENT_TYPES = { "certs.surveil": null, "certs.suspend": "suspend", "certs.reinstate": "reinstate", "certs.revoke": "revoke", "certs.change": "change" };
const PRODUCT = ["productType", "catalog", "productName", "model", "version"];

// The application must be the manufacturer's, to this body, for the very product certified;
// its lab reports must be about it. Anything else in the bundle is a failure, not a footnote.
function bindApplication(entries, issue, about) {
  const applications = entries.filter((e) => e.type === "certs.apply");
  const application = applications[0];
  const same = application && PRODUCT.every((k) => application.body[k] === about[k]);
  if (applications.length !== 1 || application.body.number !== issue.body.application || application.org !== about.manufacturer
      || application.body.body !== issue.org || !same) {
    throw new VerifyError(t("the signed entries do not hold the application certificate %(number)s answers", { number: about.certificateNumber }));
  }
  const reports = entries.filter((e) => e.type === "certs.lab-report");
  for (const report of reports) {
    if (report.body.application !== application.body.number) {
      throw new VerifyError(t("entry %(index)s is not about certificate %(number)s", { index: report.index, number: about.certificateNumber }));
    }
  }
  return { application, reports };
}

function describe(entry) {
  if (entry.type === "certs.change") {
    const parts = [];
    if (entry.body.model) parts.push(t("model %(model)s", { model: entry.body.model }));
    if (entry.body.version) parts.push(t("version %(version)s", { version: entry.body.version }));
    return parts.join(", ") + ": " + entry.body.description;
  }
  return entry.body.reason || entry.body.report || "";
}

function row(label, value) {
  return el("tr", {}, el("th", { scope: "row" }, label), el("td", {}, value));
}

function derive(verified, subject) {
  const mine = verified.entries.filter((e) => !e.type.startsWith("ledger."));
  const issues = mine.filter((e) => e.type === "certs.issue");
  const issue = issues.find((e) => e.body.credential?.credentialSubject?.certificateNumber === subject.number);
  if (!issue || issues.length !== 1) throw new VerifyError(t("the signed entries do not issue certificate %(number)s", { number: subject.number }));
  const credential = issue.body.credential;
  const about = credential.credentialSubject;
  const { application, reports } = bindApplication(mine, issue, about);
  const events = [];
  for (const entry of mine) {
    if (entry === issue || entry === application || reports.includes(entry)) continue;
    if (!(entry.type in EVENT_TYPES) || entry.body.number !== subject.number || entry.org !== issue.org) {
      throw new VerifyError(t("entry %(index)s is not about certificate %(number)s", { index: entry.index, number: subject.number }));
    }
    const kind = EVENT_TYPES[entry.type] || "surveil-" + entry.body.result;
    events.push({ kind, day: entry.body.date, index: entry.index, reason: describe(entry) });
  }
  const validFrom = credential.validFrom.slice(0, 10);
  const validUntil = credential.validUntil.slice(0, 10);
  const today = new Date().toISOString().slice(0, 10);
  const found = statusOn(today, validFrom, validUntil, events);
  const members = verified.members;
  const name = (org) => (members.get(org) ? members.get(org).name + " (" + org + ")" : org);
  const facts = el("table", { class: "facts" },
    row(t("Product"), about.productName),
    row(t("Model and version"), about.model + " " + about.version),
    row(t("Product type"), about.productType),
    row(t("Catalog"), about.catalog),
    row(t("Manufacturer"), name(about.manufacturer)),
    row(t("Certification body"), name(issue.org)),
    row(t("Valid"), formatDate(validFrom) + " – " + formatDate(validUntil)),
    about.previous ? row(t("Renews"), about.previous) : null,
    row(t("Application"), application.body.number + ", " + formatDate(application.body.date)));
  const tests = el("ul", { id: "lab-reports" }, reports.map((r) =>
    el("li", { "data-result": r.body.result },
      formatDate(r.body.date) + ": " + name(r.org) + ", " + (r.body.result === "pass" ? t("passed") : t("failed")) + ", " + r.body.report.title + " ",
      el("code", {}, "SHA-256 " + r.body.report.sha256))));
  const history = el("ol", { id: "history" }, events.map((e) =>
    el("li", { "data-kind": e.kind }, formatDate(e.day) + ": " + KINDS()[e.kind] + (e.reason ? " (" + e.reason + ")" : ""))));
  return {
    nodes: [
      el("section", { id: "facts" }, el("h2", {}, t("Certificate")), facts),
      el("section", {}, el("h2", {}, t("Lab tests")), reports.length ? tests : el("p", {}, t("No lab report recorded."))),
      el("section", {}, el("h2", {}, t("History")), events.length ? history : el("p", {}, t("No surveillance or status change recorded."))),
    ],
    records: 2 + reports.length + events.length,
    banner: { status: found.status, title: STATUS()[found.status], message: found.since ? " " + t("since %(day)s", { day: formatDate(found.since) }) : "" },
    facts: { number: subject.number, status: found.status, since: found.since, model: about.model, body: issue.org },
  };
}

showVerified(derive);
