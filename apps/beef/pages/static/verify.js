// Verifies, in the consumer's own browser, every record the scan page shows: the member's
// Ed25519 signature on each entry, its RFC 9162 inclusion proof, the log's signature on the
// checkpoint, witness cosignatures against the quorum, and that the page's text matches the
// signed entries. The verdict is computed here, so the page itself need not be trusted; what
// must be trusted is the log key, whose id is printed on the label.
"use strict";

const enc = new TextEncoder();

function b64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 8785 (JCS): the serialization of ECMAScript itself, with keys sorted by UTF-16 units.
function canonical(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
}

async function ed25519Verify(publicKey, signature, message) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// C2SP signed-note vkey: name+hex(keyid)+base64(type||key); key id = SHA-256(name\n type key)[:4]
async function parseVkey(vkey) {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, first);
  const id = vkey.slice(first + 1, second);
  const material = b64(vkey.slice(second + 1));
  const computed = (await sha256(concat(enc.encode(name + "\n"), material))).slice(0, 4);
  if (hex(computed) !== id) throw new Error("vkey " + name + " has a wrong key id");
  return { name, id, type: material[0], key: material.slice(1) };
}

function parseNote(text) {
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the checkpoint is not a signed note");
  const body = text.slice(0, split + 1);
  const sigs = text.slice(split + 2).split("\n").filter((l) => l).map((line) => {
    if (!line.startsWith("\u2014 ")) throw new Error("bad signature line in the checkpoint");
    const [name, sig] = line.slice(2).split(" ");
    const raw = b64(sig);
    return { name, id: hex(raw.slice(0, 4)), sig: raw.slice(4) };
  });
  return { body, sigs };
}

async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) throw new Error("index outside the tree");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("inclusion proof too long");
    if ((fn & 1) === 1 || fn === sn) {
      r = await sha256(concat([1], p, r));
      while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = await sha256(concat([1], r, p));
    }
    fn >>= 1; sn >>= 1;
  }
  if (sn !== 0) throw new Error("inclusion proof too short");
  return r;
}

async function verifyCheckpoint(data) {
  const note = parseNote(data.checkpoint);
  const lines = note.body.split("\n");
  const origin = lines[0], size = Number(lines[1]), root = b64(lines[2]);
  let logOk = false;
  for (const vkey of data.policy.logs) {
    const log = await parseVkey(vkey);
    if (log.name !== origin) continue;
    for (const s of note.sigs) {
      if (s.name === log.name && s.id === log.id) {
        if (!(await ed25519Verify(log.key, s.sig, enc.encode(note.body)))) {
          throw new Error("the log's signature on the checkpoint does not verify");
        }
        logOk = log.id;
      }
    }
  }
  if (!logOk) throw new Error("the checkpoint is not signed by the trusted log key");
  const cosigned = new Set();
  for (const [name, vkey] of Object.entries(data.policy.witnesses)) {
    const w = await parseVkey(vkey);
    for (const s of note.sigs) {
      if (s.name !== w.name || s.id !== w.id) continue;
      const time = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
      const msg = concat(enc.encode("cosignature/v1\ntime " + time.toString() + "\n"), enc.encode(note.body));
      if (!(await ed25519Verify(w.key, s.sig.slice(8), msg))) throw new Error("a witness cosignature does not verify");
      cosigned.add(name);
    }
  }
  const met = (name) => {
    if (name === "none") return true;
    if (name in data.policy.witnesses) return cosigned.has(name);
    const g = data.policy.groups[name];
    return g.members.filter(met).length >= g.threshold;
  };
  if (!met(data.policy.quorum)) throw new Error("witness cosignatures do not meet the quorum");
  return { size, root, logId: logOk, witnesses: cosigned.size };
}

async function verifyEntry(item, checkpoint, keys) {
  const bytes = b64(item.entry);
  const entry = JSON.parse(new TextDecoder().decode(bytes));
  if (canonical(entry) !== new TextDecoder().decode(bytes)) throw new Error("entry is not canonical JSON");
  const key = keys.find((k) => k.org === entry.org && k.id === entry.key);
  if (!key) throw new Error("entry " + item.index + " is signed by a key not of " + entry.org);
  if (key.revokedAt !== null && item.index >= key.revokedAt) throw new Error("entry " + item.index + " is signed by a revoked key");
  const unsigned = Object.assign({}, entry);
  delete unsigned.sig;
  const message = enc.encode("sealchain/tx/v1\n" + canonical(unsigned));
  if (!(await ed25519Verify(key.key, b64(entry.sig), message))) throw new Error("entry " + item.index + ": signature does not verify");
  const leaf = await sha256(concat([0], bytes));
  const root = await rootFromInclusion(item.index, checkpoint.size, leaf, item.proof.map(b64));
  if (!equal(root, checkpoint.root)) throw new Error("entry " + item.index + ": inclusion proof does not lead to the checkpoint");
  return entry;
}

function show(ok, text) {
  const verdict = document.getElementById("verdict");
  verdict.textContent = text;
  verdict.className = "verdict " + (ok ? "verified" : "failed");
  verdict.dataset.verdict = ok ? "verified" : "failed";
}

async function main() {
  const holder = document.getElementById("proof-data");
  if (!holder) return;
  const data = JSON.parse(holder.textContent);
  try {
    if (!crypto.subtle) throw new Error("this browser cannot verify (no WebCrypto)");
    const checkpoint = await verifyCheckpoint(data);
    const keys = [];
    for (const m of data.members) {
      const k = await parseVkey(m.vkey);
      keys.push({ org: m.org, id: k.id, key: k.key, revokedAt: m.revoked_at });
    }
    const byIndex = new Map();
    for (const item of data.entries) byIndex.set(item.index, await verifyEntry(item, checkpoint, keys));
    // The page's own words must be what was signed.
    for (const li of document.querySelectorAll("#journey li")) {
      const entry = byIndex.get(Number(li.dataset.index));
      const mark = li.querySelector(".mark");
      if (!entry || entry.body.event.eventTime !== li.dataset.time || entry.body.place.name !== li.dataset.place) {
        mark.textContent = "\u2717";
        throw new Error("the step at " + li.dataset.time + " is not what was signed");
      }
      mark.textContent = "\u2713";
      li.classList.add("verified");
    }
    const product = document.getElementById("product");
    const commission = [...byIndex.values()].find((e) => e.type === "beef.commission");
    if (product && (!commission || commission.body.event.ilmd.productName !== product.dataset.name || commission.body.event.ilmd.lot !== product.dataset.lot)) {
      throw new Error("the product shown is not the one commissioned");
    }
    show(true, "Verified in your browser: " + byIndex.size + " signed records in checkpoint " +
      checkpoint.size + " of log key " + checkpoint.logId + (checkpoint.witnesses ? ", cosigned by " + checkpoint.witnesses + " witnesses" : ""));
  } catch (err) {
    show(false, "NOT VERIFIED: " + err.message);
  }
}

main();
