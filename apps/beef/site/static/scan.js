// The beef scan page: everything it shows about the pack (product, journey, parties, places,
// cold chain, certificates, status) is derived here from signed entries verified in this
// browser, each bound to the scanned pack. The same derivation in Python is apps/beef/journey.py
// (`sealchain scan`); tests hold the two to the same answers.
import {
  el, formatDate, formatNumber, showVerified, svgEl, t, timeElement, tn,
} from "/static/ledger/page.js";
import { b64decode, leafHash, VerifyError, verifyInclusion } from "/static/ledger/verify.js";

const ORG_PREFIX = "urn:sealchain:org:";
const RETAILER = "beef.retailer";
const COMMISSIONING = new Set(["beef.commission", "beef.lot"]);

function orgOf(partyUri) {
  return (partyUri || "").startsWith(ORG_PREFIX) ? partyUri.slice(ORG_PREFIX.length) : partyUri || "";
}

function kindOf(uri) {
  if (uri.startsWith("urn:sealchain:container:")) return "container";
  if (uri.startsWith("https://id.gs1.org/00/")) return "carton";
  return "pack";
}

function shortName(uri) {
  const last = uri.split("/").pop();
  return last.split(":").pop();
}

function named(event) {
  const names = new Set([...(event.epcList || []), ...(event.childEPCs || [])]);
  if (event.parentID) names.add(event.parentID);
  return names;
}

// Where the pack is at each point of the log: the cartons and containers around it, moved by
// the aggregation events that are about it.
class Containment {
  constructor(pack) { this.pack = pack; this.parent = new Map(); }

  around() {
    const chain = new Set([this.pack]);
    let at = this.pack;
    while (this.parent.has(at) && !chain.has(this.parent.get(at))) {
      at = this.parent.get(at);
      chain.add(at);
    }
    return chain;
  }

  apply(event) {
    if (event.type !== "AggregationEvent") return;
    const children = event.childEPCs || [];
    if (event.action === "ADD") {
      for (const child of children) this.parent.set(child, event.parentID);
      return;
    }
    for (const [child, holder] of [...this.parent]) {
      if (holder === event.parentID && (!children.length || children.includes(child))) this.parent.delete(child);
    }
  }
}

// Whether the scan's path leads from the pack's URI to a lot commitment's root (journey.in_lot).
async function inLot(body, pack) {
  const proof = pack.lotProof;
  if (!proof) return false;
  try {
    const leaf = await leafHash(new TextEncoder().encode(pack.uri));
    await verifyInclusion(proof.index, body.packs.count, leaf, proof.path.map(b64decode), b64decode(body.packs.root));
  } catch (err) {
    return false;
  }
  return true;
}

// Each entry must be about the pack at its place in the log (journey.bind in Python).
async function bind(entries, pack) {
  const where = new Containment(pack.uri);
  const events = new Set();
  let commissioned = false;
  for (const { index, type, body } of entries) {
    const event = body.event || {};
    let about;
    if (type === "beef.correct") about = events.has(body.eventID);
    else if (type === "beef.recall") about = body.gtin === pack.gtin && body.lot === pack.lot;
    else if (type === "beef.commission") {
      about = (event.epcList || []).includes(pack.uri);
      commissioned = commissioned || about;
    } else if (type === "beef.lot") {
      about = await inLot(body, pack);
      commissioned = commissioned || about;
    } else {
      const around = where.around();
      about = type.startsWith("beef.") && [...named(event)].some((n) => around.has(n));
    }
    if (!about || (!commissioned && !COMMISSIONING.has(type))) {
      throw new VerifyError(t("Signed entry %(index)s (%(type)s) is not about this pack.", { index, type }));
    }
    where.apply(event);
    if (event.eventID) events.add(event.eventID);
  }
  if (!commissioned) throw new VerifyError(t("No signed entry commissions this pack."));
}

function stepText(type, body, product, nameOf) {
  const event = body.event;
  switch (type) {
    case "beef.commission":
    case "beef.lot":
      return tn("Packed and commissioned: %(n)s pack of %(product)s, lot %(lot)s",
        "Packed and commissioned: %(n)s packs of %(product)s, lot %(lot)s",
        type === "beef.lot" ? body.packs.count : event.epcList.length,
        { product: product.productName, lot: product.lot });
    case "beef.aggregate":
      return kindOf(event.parentID) === "carton"
        ? t("Packed into carton %(id)s", { id: shortName(event.parentID) })
        : t("Packed into container %(id)s", { id: shortName(event.parentID) });
    case "beef.disaggregate":
      return kindOf(event.parentID) === "carton"
        ? t("Unpacked from carton %(id)s", { id: shortName(event.parentID) })
        : t("Unpacked from container %(id)s", { id: shortName(event.parentID) });
    case "beef.ship":
      return t("Shipped to %(party)s", { party: nameOf(orgOf(event.destinationList[0].destination)) });
    case "beef.receive":
      return t("Received from %(party)s", { party: nameOf(orgOf(event.sourceList[0].source)) });
    case "beef.sensor": {
      const values = event.sensorElementList.flatMap((e) => e.sensorReport.map((r) => r.value));
      return tn("Temperature log: %(n)s reading, %(low)s to %(high)s °C",
        "Temperature log: %(n)s readings, %(low)s to %(high)s °C", values.length,
        { low: formatNumber(Math.min(...values)), high: formatNumber(Math.max(...values)) });
    }
    case "beef.inspect": {
      const c = body.customs;
      const params = { certificate: c.healthCertificate };
      if (c.conformant) {
        return c.decision === "release"
          ? t("Customs inspection: conformant, released (health certificate %(certificate)s)", params)
          : t("Customs inspection: conformant, held (health certificate %(certificate)s)", params);
      }
      return c.decision === "release"
        ? t("Customs inspection: non-conformant, released (health certificate %(certificate)s)", params)
        : t("Customs inspection: non-conformant, held (health certificate %(certificate)s)", params);
    }
    case "beef.sell":
      return t("Sold to a consumer");
    case "beef.recall":
      return t("Lot recalled: %(reason)s", { reason: body.reason });
    default:
      return type;
  }
}

function judge(value, coldChain) {
  if (value > coldChain.alarmAbove) return "alarm";
  if (value < coldChain.low || value > coldChain.high) return "excursion";
  return "ok";
}

// The facts, as plain data (journey.derive in Python).
async function derive(verified, subject) {
  const pack = subject.pack;
  const entries = verified.entries.filter((e) => !e.type.startsWith("ledger."));
  await bind(entries, pack);
  const parties = verified.members;
  const nameOf = (org) => (parties.has(org) ? parties.get(org).name : org);
  const commission = entries.find((e) => COMMISSIONING.has(e.type));
  const product = commission.body.event.ilmd;
  let holder = commission.org, inTransitTo = null, held = false, sold = false, recall = null;
  const steps = new Map(), readings = [], certificates = [];
  for (const { index, type, org, body } of entries) {
    if (type === "beef.correct") {
      steps.get(body.eventID).corrected = body.note;
      continue;
    }
    const event = body.event;
    if (type === "beef.ship") {
      inTransitTo = orgOf(event.destinationList[0].destination);
      certificates.push(...(body.certificates || []));
    } else if (type === "beef.receive") {
      holder = org;
      inTransitTo = null;
    } else if (type === "beef.sensor") {
      for (const element of event.sensorElementList) {
        for (const r of element.sensorReport) {
          readings.push({ time: r.time, value: r.value, status: judge(r.value, subject.coldChain) });
        }
      }
    } else if (type === "beef.inspect") {
      held = body.customs.decision === "hold";
    } else if (type === "beef.sell") {
      sold = true;
    } else if (type === "beef.recall") {
      recall = body.reason;
    }
    steps.set(event.eventID, {
      index, type, org, party: nameOf(org), time: event.eventTime, offset: event.eventTimeZoneOffset,
      place: body.place, text: stepText(type, body, product, nameOf), corrected: null,
    });
  }
  readings.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  let status;
  if (recall !== null) status = "recalled";
  else if (sold) status = "sold";
  else if (held) status = "held";
  else if (inTransitTo !== null) status = "in_transit";
  else if (parties.has(holder) && parties.get(holder).roles.has(RETAILER)) status = "on_sale";
  else status = "in_supply_chain";
  return {
    product, status, recall, holder, inTransitTo, nameOf, readings, certificates,
    steps: [...steps.values()].sort((a, b) => a.index - b.index),
    records: entries.length,
  };
}

function banner(facts) {
  const { status, nameOf } = facts;
  const titles = {
    recalled: t("Recalled"), sold: t("Sold"), held: t("Held by customs"), in_transit: t("In transit"),
    on_sale: t("On sale"), in_supply_chain: t("In the supply chain"),
  };
  const messages = {
    recalled: t("Recalled: %(reason)s. Do not eat it; return it to the store.", { reason: facts.recall }),
    sold: t("Sold to a consumer."),
    held: t("Held by customs at the port of entry: not released for sale."),
    in_transit: t("In transit to %(party)s.", { party: nameOf(facts.inTransitTo) }),
    on_sale: t("On sale at %(party)s.", { party: nameOf(facts.holder) }),
    in_supply_chain: t("In the supply chain, held by %(party)s.", { party: nameOf(facts.holder) }),
  };
  return { status, title: titles[status], message: messages[status] };
}

function productSection(product, pack) {
  const row = (label, value) => [el("dt", {}, label), el("dd", {}, value)];
  return el("section", { id: "product" },
    el("h1", {}, product.productName),
    el("dl", {},
      row(t("Cut"), product.cut),
      row(t("Net weight"), t("%(weight)s kg", { weight: formatNumber(product.netWeightKg, 3) })),
      row(t("Origin"), product.origin),
      row(t("Processor"), `${product.processor} (${product.establishment})`),
      row(t("Grade"), product.msaGrade),
      row(t("Packed on"), el("time", { datetime: product.packedOn }, formatDate(product.packedOn))),
      row(t("Best before"), el("time", { datetime: product.bestBefore }, formatDate(product.bestBefore))),
      row(t("GTIN · lot · serial"), `${pack.gtin} · ${pack.lot} · ${pack.serial}`),
      row(t("Source animals"), tn("%(n)s NLIS-tagged animal", "%(n)s NLIS-tagged cattle", product.nlisTags.length)),
    ));
}

function journeySection(steps) {
  return el("section", {},
    el("h2", {}, t("Journey")),
    el("ol", { id: "journey" }, steps.map((step) => el("li", { "data-index": step.index, class: "verified" },
      timeElement(step.time, step.offset),
      el("span", { class: "mark", title: t("Signed and verified") }, "\u2713"),
      el("b", {}, step.text), el("br"),
      `${step.place.name}, ${step.place.city}, ${step.place.country} · ${step.party}`,
      step.corrected ? el("span", { class: "corrected" }, t("Corrected by its recorder: %(note)s", { note: step.corrected })) : null,
    ))));
}

function chart(readings, coldChain) {
  const WIDTH = 640, HEIGHT = 220, PAD = 36;
  const values = readings.map((r) => r.value);
  const top = Math.max(...values, coldChain.alarmAbove + 1);
  const bottom = Math.min(...values, coldChain.low - 1);
  const y = (v) => PAD + ((top - v) / (top - bottom)) * (HEIGHT - 2 * PAD);
  const x = (i) => PAD + (i / Math.max(values.length - 1, 1)) * (WIDTH - 2 * PAD);
  const colours = { ok: "#12b76a", excursion: "#dc6803", alarm: "#b42318" };
  const label = (v, colour) => svgEl("text", { x: 4, y: (y(v) + 4).toFixed(1), "font-size": 11, fill: colour }, formatNumber(v));
  return svgEl("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": t("Temperature readings in degrees Celsius") },
    svgEl("rect", { x: PAD, y: y(coldChain.high).toFixed(1), width: WIDTH - 2 * PAD, height: (y(coldChain.low) - y(coldChain.high)).toFixed(1), fill: "#d1fadf" }),
    svgEl("line", { x1: PAD, x2: WIDTH - PAD, y1: y(coldChain.alarmAbove).toFixed(1), y2: y(coldChain.alarmAbove).toFixed(1), stroke: "#b42318", "stroke-dasharray": "4 4" }),
    label(coldChain.high, "#1d232a"), label(coldChain.low, "#1d232a"), label(coldChain.alarmAbove, "#b42318"),
    svgEl("polyline", { points: values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "), fill: "none", stroke: "#344054", "stroke-width": 1.5 }),
    readings.map((r, i) => svgEl("circle", { cx: x(i).toFixed(1), cy: y(r.value).toFixed(1), r: 3, fill: colours[r.status], "data-status": r.status },
      svgEl("title", {}, t("%(time)s: %(value)s °C", { time: r.time, value: formatNumber(r.value) })))));
}

function coldChainSection(readings, coldChain) {
  const outside = readings.filter((r) => r.status !== "ok").length;
  const alarms = readings.filter((r) => r.status === "alarm").length;
  return el("section", { id: "cold-chain" },
    el("h2", {}, t("Cold chain")),
    chart(readings, coldChain),
    el("p", {},
      el("span", { id: "excursions" }, tn("%(n)s reading was outside the chilled range.",
        "%(n)s readings were outside the chilled range.", outside)),
      " ",
      el("span", { id: "alarms" }, tn("%(n)s was above %(alarm)s °C.", "%(n)s were above %(alarm)s °C.",
        alarms, { alarm: formatNumber(coldChain.alarmAbove) }))));
}

const CERTIFICATE_KINDS = () => ({
  "export-health": t("Export health certificate"), halal: t("Halal certificate"),
  organic: t("Organic certificate"), "import-permit": t("Import permit"),
});

function certificatesSection(certificates) {
  const kinds = CERTIFICATE_KINDS();
  return el("section", { id: "certificates" },
    el("h2", {}, t("Certificates")),
    el("table", {},
      el("tr", {}, el("th", {}, t("Kind")), el("th", {}, t("Number")), el("th", {}, t("Issuer"))),
      certificates.map((c) => el("tr", {}, el("td", { "data-kind": c.kind }, kinds[c.kind] || c.kind), el("td", {}, c.number), el("td", {}, c.issuer)))));
}

showVerified(async (verified, subject) => {
  const facts = await derive(verified, subject);
  const nodes = [productSection(facts.product, subject.pack), journeySection(facts.steps)];
  if (facts.readings.length) nodes.push(coldChainSection(facts.readings, subject.coldChain));
  if (facts.certificates.length) nodes.push(certificatesSection(facts.certificates));
  return {
    nodes,
    records: facts.records,
    banner: banner(facts),
    facts: {
      status: facts.status,
      product: facts.product,
      steps: facts.steps.map(({ index, type, org, time, place, corrected }) => ({ index, type, org, time, place, corrected })),
      readings: facts.readings,
      certificates: facts.certificates,
    },
  };
});
