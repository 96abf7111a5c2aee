// Sealchain's in-browser verifier: the one module every public page imports to check, in the
// reader's own browser, what the page shows. It is the JavaScript twin of ledger/core and must
// agree with it case by case; tests/e2e/test_js_verifier.py runs both on the same vectors (RFC 9162
// Merkle proofs, C2SP signed notes, Wycheproof Ed25519, RFC 8785) and on real and tampered
// receipts and page bundles.
//
// Rules this file keeps:
// - no dependencies and no build step: an ES module served under `script-src 'self'`, so no
//   eval and no inline code; the cryptography is the browser's own WebCrypto (SHA-256, Ed25519);
// - every parser is as strict as its Python twin: where Python refuses an input, so does this,
//   because two verifiers that read one input two ways can be played against each other;
// - every failure is a VerifyError whose message is a sentence for the reader, written through
//   t()/tn() (extracted with Babel: keywords t and tn:1,2), and whose `step` numbers the check
//   that failed as the Python side does (0: the input is malformed).

// --- messages ------------------------------------------------------------------------------------

let messages = {};

/** Use `catalog` ({msgid: translation | [plural forms]}) from now on; {} means English. */
export function setMessages(catalog) {
  messages = catalog && typeof catalog === "object" ? catalog : {};
}

/** `msgid` in the page's language, with its %(name)s placeholders filled from `params`. */
export function t(msgid, params = {}) {
  const forms = translationOf(msgid);
  return fill(forms ? forms[0] : msgid, params);
}

/** The singular or plural sentence for `n` (also available to it as %(n)s). */
export function tn(singular, plural, n, params = {}) {
  const values = { ...params, n };
  const forms = translationOf(singular);
  if (!forms) {
    // Untranslated text is English, so English rules pick its form whatever the page's language.
    return fill(new Intl.PluralRules("en").select(n) === "one" ? singular : plural, values);
  }
  return fill(forms[pluralIndex(forms.length, n)], values);
}

function translationOf(msgid) {
  if (!Object.hasOwn(messages, msgid)) return null;
  const found = messages[msgid];
  const forms = typeof found === "string" ? [found] : found;
  if (!Array.isArray(forms) || !forms.length) return null;
  return forms.every((form) => typeof form === "string" && form) ? forms : null;
}

function pluralRules() {
  const lang = (typeof document !== "undefined" && document.documentElement.lang) || "en";
  try {
    return new Intl.PluralRules(lang);
  } catch {
    return new Intl.PluralRules("en"); // a malformed lang attribute must not stop verification
  }
}

function pluralIndex(count, n) {
  if (count === 1) return 0;
  const rules = pluralRules();
  const category = rules.select(n);
  if (count === 2) return category === "one" ? 0 : 1;
  // More forms: one per category the language has, in CLDR order (zero, one, two, few, many,
  // other), which is how gettext catalogs of those languages order them.
  const order = ["zero", "one", "two", "few", "many", "other"];
  const mine = order.filter((c) => rules.resolvedOptions().pluralCategories.includes(c));
  return Math.min(Math.max(mine.indexOf(category), 0), count - 1);
}

function fill(text, params) {
  return text.replace(/%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g, (whole, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

// --- errors --------------------------------------------------------------------------------------

/** A verification failure: `message` is already translated; `step` numbers the failed check. */
export class VerifyError extends Error {
  constructor(message, step = 0) {
    super(message);
    this.name = "VerifyError";
    this.step = step;
  }
}

/** Run `check`, numbering as `step` the failures it throws without a step of their own. */
async function atStep(step, check) {
  try {
    return await check();
  } catch (err) {
    if (err instanceof VerifyError && err.step === 0) err.step = step;
    throw err;
  }
}

/** Run `check`, replacing any VerifyError it throws by `error` (for a message in context). */
async function instead(error, check) {
  try {
    return await check();
  } catch (err) {
    if (err instanceof VerifyError) throw error;
    throw err;
  }
}

// --- bytes and text ------------------------------------------------------------------------------

const encoder = new TextEncoder();
const utf8 = (text) => encoder.encode(text);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function b64encode(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 with one spelling only (ledger.core.keys.b64decode_strict): the alphabet,
 * padding, and zero unused bits, so that no two strings stand for the same bytes. */
export function b64decode(text) {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new VerifyError(t("a value is not in strict base64"));
  }
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (b64encode(bytes) !== text) throw new VerifyError(t("a value is not in strict base64"));
  return bytes;
}

/** b64decode, or null where it throws. */
function b64decodeOrNull(text) {
  try {
    return b64decode(text);
  } catch {
    return null;
  }
}

// Python's str.isspace(): what ledger.core strips from verifier keys and refuses in key names.
const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPACE_CHAR = new RegExp("[" + PY_SPACE + "]");
const PY_STRIP = new RegExp("^[" + PY_SPACE + "]+|[" + PY_SPACE + "]+$", "g");

function shorten(text) {
  return text.length > 60 ? text.slice(0, 60) + "\u2026" : text;
}

function isPlainObject(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Does `object` have exactly the own keys `names`, in any order? */
function hasExactly(object, names) {
  const keys = Object.keys(object);
  return keys.length === names.length && names.every((name) => Object.hasOwn(object, name));
}

/** A non-negative integer a JavaScript number holds exactly, as indexes in receipts and bundles
 * are (ledger.core.canonical refuses integers past 2^53 - 1 in JSON). */
function isIndex(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

// --- canonical JSON (RFC 8785), as ledger.core.canonical -----------------------------------------

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_ENTRY_BYTES = 64 * 1024;
const MAX_DEPTH = 32;

/** The RFC 8785 (JCS) text of `value`: the only form of JSON that is hashed or signed. Throws for
 * what ledger.core.canonical.canonical_bytes refuses: non-finite numbers, numbers between 2^53 and
 * 1e21 (integers JSON cannot carry exactly), lone surrogates, anything that is not plain JSON. */
export function canonicalJSON(value) {
  if (value === null || value === true || value === false) return String(value);
  if (typeof value === "number") return canonicalNumber(value);
  if (typeof value === "string") return canonicalString(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
  if (isPlainObject(value)) {
    // JCS orders keys by UTF-16 code units, which is exactly what the default sort compares.
    const keys = Object.keys(value).sort();
    const members = keys.map((key) => canonicalString(key) + ":" + canonicalJSON(value[key]));
    return "{" + members.join(",") + "}";
  }
  throw new VerifyError(t("a value cannot be written as canonical JSON"));
}

function canonicalNumber(value) {
  const size = Math.abs(value);
  if (!Number.isFinite(value) || (size > MAX_SAFE && size < 1e21)) {
    throw new VerifyError(t("a number cannot be written as canonical JSON"));
  }
  return JSON.stringify(value); // ECMAScript's number formatting is the one JCS specifies; -0 is 0
}

function canonicalString(text) {
  // A lone surrogate has no UTF-8 encoding, so it cannot be hashed the same way everywhere.
  if (!text.isWellFormed()) throw new VerifyError(t("a text value contains a lone surrogate"));
  return JSON.stringify(text); // escapes exactly '"', '\' and control characters, as JCS does
}

/** Entry bytes that are canonical JSON of an object: parsed, re-encoded and compared, so the
 * bytes the Merkle leaf commits to have exactly one reading (no duplicate keys, no big integers,
 * no other spelling). Throws VerifyError (step 0). */
function parseCanonical(bytes) {
  if (bytes.length > MAX_ENTRY_BYTES) throw new VerifyError(t("an entry is larger than 64 KiB"));
  let value;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(text);
  } catch {
    throw new VerifyError(t("an entry is not valid JSON"));
  }
  checkDepth(value);
  let canonical;
  try {
    canonical = utf8(canonicalJSON(value));
  } catch {
    throw new VerifyError(t("an entry is not canonical JSON"));
  }
  if (!equalBytes(canonical, bytes)) throw new VerifyError(t("an entry is not canonical JSON"));
  return value;
}

function checkDepth(value) {
  const stack = [[value, 0]];
  while (stack.length) {
    const [item, level] = stack.pop();
    if (item === null || typeof item !== "object") continue;
    if (level >= MAX_DEPTH) throw new VerifyError(t("an entry is nested deeper than 32 levels"));
    for (const child of Object.values(item)) stack.push([child, level + 1]);
  }
}

// --- hashing and signatures ----------------------------------------------------------------------

function subtle() {
  if (!globalThis.crypto?.subtle) {
    throw new VerifyError(t("this browser cannot verify: WebCrypto is unavailable here"));
  }
  return globalThis.crypto.subtle;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/** True if `signature` is a valid Ed25519 signature of `message` by `publicKey` (all bytes).
 *
 * WebCrypto (BoringSSL in Chromium) and ledger.core (OpenSSL, via `cryptography`) were tested to
 * agree on all 151 Wycheproof cases and on every pairing of small-order and non-canonical point
 * encodings as key and R: no extra check is needed. The length checks say first what
 * ledger.core.keys.Verifier checks first. */
export async function ed25519Verify(publicKey, signature, message) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  let key;
  try {
    key = await subtle().importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (err) {
    if (err instanceof VerifyError) throw err;
    if (err?.name === "NotSupportedError") {
      throw new VerifyError(t("this browser cannot check Ed25519 signatures"));
    }
    return false;
  }
  return subtle().verify({ name: "Ed25519" }, key, signature, message);
}

// --- verifier keys (C2SP signed-note), as ledger.core.keys ---------------------------------------

const SIG_ED25519 = 0x01;
const SIG_COSIGNATURE_V1 = 0x04;

function checkKeyName(name) {
  if (!name || name.includes("+") || PY_SPACE_CHAR.test(name) || /[\x00-\x1f\x7f]/.test(name)) {
    throw new VerifyError(
      t("the key name %(name)s is empty or contains spaces, '+' or control characters", {
        name: shorten(name),
      }),
    );
  }
  if (!name.isWellFormed()) {
    throw new VerifyError(
      t("the key name %(name)s contains a lone surrogate", { name: shorten(name) }),
    );
  }
}

/** The C2SP key id, hex: SHA-256(name || 0x0A || signature type || public key)[:4]. */
async function keyIdHex(name, type, key) {
  return hex((await sha256(concat(utf8(name + "\n"), [type], key))).subarray(0, 4));
}

/** Parse `name+hex8(key id)+base64(type || key)`; throws VerifyError exactly when
 * ledger.core.keys.parse_vkey raises. `id` is the computed key id in lower-case hex. */
export async function parseVkey(vkey) {
  if (typeof vkey !== "string") throw new VerifyError(t("a verifier key is not text"));
  const text = vkey.replace(PY_STRIP, "");
  // The name and the id hold no '+', the base64 may: split at the first two only.
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) {
    throw new VerifyError(
      t("the verifier key %(vkey)s does not have three parts separated by '+'", {
        vkey: shorten(text),
      }),
    );
  }
  const name = text.slice(0, first);
  const claimedId = text.slice(first + 1, second);
  const material = await instead(
    new VerifyError(t("the verifier key %(name)s has bad hex or base64", { name: shorten(name) })),
    () => b64decode(text.slice(second + 1)),
  );
  if (!/^[0-9a-fA-F]{8}$/.test(claimedId)) {
    throw new VerifyError(
      t("the verifier key %(name)s has a key id that is not 8 hex digits", { name: shorten(name) }),
    );
  }
  if (material.length !== 33) {
    throw new VerifyError(
      t("the verifier key %(name)s does not hold a type byte and a 32-byte Ed25519 key", {
        name: shorten(name),
      }),
    );
  }
  checkKeyName(name);
  const type = material[0];
  if (type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) {
    throw new VerifyError(
      t("the verifier key %(name)s has an unsupported signature type", { name: shorten(name) }),
    );
  }
  const key = material.slice(1);
  const id = await keyIdHex(name, type, key);
  if (id !== claimedId.toLowerCase()) {
    throw new VerifyError(
      t("the verifier key %(name)s has a key id that does not match its name and key", {
        name: shorten(name),
      }),
    );
  }
  return { name, id, type, key };
}

async function parseVkeyOfType(vkey, type) {
  const verifier = await parseVkey(vkey);
  if (verifier.type !== type) {
    throw new VerifyError(
      t("the verifier key %(name)s has the wrong signature type for its use", {
        name: shorten(verifier.name),
      }),
    );
  }
  return verifier;
}

function sameVerifier(a, b) {
  return a.name === b.name && a.type === b.type && equalBytes(a.key, b.key);
}

// --- signed notes, checkpoints and cosignatures (C2SP), as ledger.core.note ----------------------

const SIG_PREFIX = "\u2014 "; // em dash, space
const MAX_SIGNATURES = 64;
const MAX_NOTE_BYTES = 64 * 1024;
const HASH_LEN = 32;

/** Split a signed note into its signed text and signature lines, as ledger.core.note.parse_note;
 * throws VerifyError when it raises. `text` is the signed text (Python's Note.text, ending in a
 * newline); `body` is the same string, under the name the old page verifier used; each sig is
 * {name, id: hex8 key id, sig: the bytes after the key id}. */
export function parseNote(text) {
  if (typeof text !== "string") throw new VerifyError(t("the signed note is not text"));
  // A lone surrogate takes 3 bytes in Python's "surrogatepass" count, as in TextEncoder's.
  if (utf8(text).length > MAX_NOTE_BYTES) throw new VerifyError(t("the signed note is too large"));
  if (!text.isWellFormed()) throw new VerifyError(t("the signed note is not valid UTF-8"));
  if (/[\x00-\x09\x0b-\x1f]/.test(text)) {
    throw new VerifyError(t("the signed note contains control characters other than newline"));
  }
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) {
    throw new VerifyError(t("the signed note has no blank line before its signatures"));
  }
  const signed = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  const lines = block ? block.slice(0, -1).split("\n") : [];
  if (!lines.length) throw new VerifyError(t("the signed note has no signatures"));
  if (lines.length > MAX_SIGNATURES) {
    throw new VerifyError(
      t("the signed note has more than %(max)s signatures", { max: MAX_SIGNATURES }),
    );
  }
  return { text: signed, body: signed, sigs: lines.map(parseSignatureLine) };
}

function parseSignatureLine(line) {
  if (!line.startsWith(SIG_PREFIX)) {
    throw new VerifyError(t("a signature line of the note does not start with an em dash"));
  }
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(" ");
  const name = rest.slice(0, space);
  const payloadText = rest.slice(space + 1);
  if (space < 0 || payloadText.includes(" ")) {
    throw new VerifyError(t("a signature line of the note is not '\u2014 <name> <base64>'"));
  }
  checkKeyName(name);
  let payload;
  try {
    payload = b64decode(payloadText);
  } catch {
    throw new VerifyError(
      t("the note signature by %(name)s is not base64", { name: shorten(name) }),
    );
  }
  if (payload.length < 5) {
    throw new VerifyError(
      t("the note signature by %(name)s is too short", { name: shorten(name) }),
    );
  }
  return { name, id: hex(payload.subarray(0, 4)), sig: payload.slice(4) };
}

const COSIGNATURE_HEADER = "cosignature/v1\n";
const MAX_TIMESTAMP = 2n ** 63n;

/** Does `sig` verify as `verifier`'s signature of the note: plain Ed25519 over the text, or a
 * tlog-cosignature/v1 (8-byte big-endian time, then Ed25519 over header, time line and text). */
async function verifiesNote(note, sig, verifier) {
  if (verifier.type === SIG_COSIGNATURE_V1) {
    if (sig.sig.length !== 8 + 64) return false;
    const time = new DataView(sig.sig.buffer, sig.sig.byteOffset, 8).getBigUint64(0);
    if (time >= MAX_TIMESTAMP) return false;
    const message = utf8(COSIGNATURE_HEADER + "time " + time.toString() + "\n" + note.text);
    return ed25519Verify(verifier.key, sig.sig.subarray(8), message);
  }
  return ed25519Verify(verifier.key, sig.sig, utf8(note.text));
}

/** The `verifiers` whose signatures on `note` verify, as ledger.core.note.verified_signers:
 * lines from unknown (name, key id) pairs are ignored, but a known key whose line fails
 * condemns the whole note (signed-note says so: it is an attack, not noise). */
export async function verifiedSigners(note, verifiers) {
  const known = new Map(verifiers.map((v) => [v.name + "\n" + v.id, v]));
  const good = [];
  for (const sig of note.sigs) {
    const verifier = known.get(sig.name + "\n" + sig.id);
    if (!verifier) continue;
    if (!(await verifiesNote(note, sig, verifier))) {
      throw new VerifyError(
        t("the signature of %(name)s on the checkpoint does not verify", {
          name: shorten(sig.name),
        }),
      );
    }
    if (!good.some((v) => sameVerifier(v, verifier))) good.push(verifier);
  }
  return good;
}

/** Origin, size and root of checkpoint text, as ledger.core.note.parse_checkpoint. */
function parseCheckpoint(text) {
  if (!text.endsWith("\n")) {
    throw new VerifyError(t("the checkpoint text does not end with a newline"));
  }
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new VerifyError(t("the checkpoint lacks its origin, size or root line"));
  }
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) throw new VerifyError(t("the checkpoint origin is empty"));
  // One spelling per size: two texts for one tree would be two signed statements.
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText)) {
    throw new VerifyError(t("the checkpoint size is not a decimal number without leading zeros"));
  }
  // Sizes past 2^53 cannot be JavaScript numbers; no log will ever hold that many entries.
  if (BigInt(sizeText) > BigInt(MAX_SAFE)) {
    throw new VerifyError(t("the checkpoint size is too large"));
  }
  const root = (() => {
    try {
      return b64decode(rootText);
    } catch {
      throw new VerifyError(t("the checkpoint root is not base64"));
    }
  })();
  if (root.length !== HASH_LEN) throw new VerifyError(t("the checkpoint root is not 32 bytes"));
  if (extensions.some((line) => !line)) {
    throw new VerifyError(t("the checkpoint has an empty extension line"));
  }
  return { origin, size: Number(sizeText), root };
}

/** Open a cosigned checkpoint with a trust policy (the JSON of ledger.service.bundles.policy_json):
 * (a) the log's signature, by any policy log key named as the origin (a rotated log key is
 * listed beside the old one), (b) every cosignature line of a policy witness verifies, (c) the
 * witnesses who cosigned meet the quorum. Returns {origin, size, root, logId, cosigners}. */
export async function openCheckpoint(noteText, policy) {
  const trust = await readPolicy(policy);
  const { checkpoint, signers, cosigners } = await openWith(noteText, trust);
  return { ...checkpoint, logId: signers[0].id, cosigners };
}

async function openWith(noteText, trust) {
  const note = parseNote(noteText);
  const checkpoint = parseCheckpoint(note.text);
  const signers = await logSigners(note, checkpoint, trust);
  const cosigners = await witnessesWhoCosigned(note, trust);
  if (!quorumMet(trust, new Set(cosigners))) {
    throw new VerifyError(quorumMessage(cosigners));
  }
  return { note, checkpoint, signers, cosigners };
}

/** The policy's log keys that signed the checkpoint: any key listed under its origin will do,
 * since a log that rotates its key is listed once per key. Throws if none did. */
async function logSigners(note, checkpoint, trust) {
  const logs = trust.logs.filter((log) => log.name === checkpoint.origin);
  if (!logs.length) {
    throw new VerifyError(
      t("no log in the trust policy has the origin %(origin)s", {
        origin: shorten(checkpoint.origin),
      }),
    );
  }
  const signers = await verifiedSigners(note, logs);
  if (!signers.length) {
    throw new VerifyError(
      t("the checkpoint is not signed by the log key of %(origin)s", {
        origin: shorten(checkpoint.origin),
      }),
    );
  }
  return signers;
}

/** Policy names (sorted) of the witnesses whose cosignatures on `note` verify. */
async function witnessesWhoCosigned(note, trust) {
  const named = [...trust.witnesses.entries()];
  const cosigned = await verifiedSigners(note, named.map(([, w]) => w));
  return named.filter(([, w]) => cosigned.includes(w)).map(([name]) => name).sort();
}

function quorumMessage(cosigners) {
  return tn(
    "the checkpoint is cosigned by %(n)s witness, which does not meet the trust policy's quorum",
    "the checkpoint is cosigned by %(n)s witnesses, which does not meet the trust policy's quorum",
    cosigners.length,
  );
}

// --- trust policy, as ledger.core.policy ---------------------------------------------------------

/** Read the policy JSON {logs: [vkey], witnesses: {name: vkey}, groups: {name: {threshold,
 * members}}, quorum}; throws VerifyError (step 0) where ledger.core.policy.parse_log_policy would
 * refuse the same policy as text. Fails closed: an unknown quorum name is an error, not "none". */
async function readPolicy(policy) {
  const malformed = () => new VerifyError(t("the trust policy is malformed"));
  if (!isPlainObject(policy) || !Array.isArray(policy.logs)) throw malformed();
  if (!isPlainObject(policy.witnesses) || !isPlainObject(policy.groups)) throw malformed();
  if (typeof policy.quorum !== "string") throw malformed();
  const logs = [];
  for (const vkey of policy.logs) logs.push(await parseVkeyOfType(vkey, SIG_ED25519));
  const witnesses = new Map();
  for (const [name, vkey] of Object.entries(policy.witnesses)) {
    if (!isPolicyName(name)) throw malformed();
    witnesses.set(name, await parseVkeyOfType(vkey, SIG_COSIGNATURE_V1));
  }
  const keys = [...logs, ...witnesses.values()].map((v) => hex(v.key));
  if (new Set(keys).size !== keys.length) {
    throw new VerifyError(t("the trust policy lists one key twice"));
  }
  const groups = readGroups(policy.groups, witnesses, malformed);
  const quorum = policy.quorum;
  if (quorum !== "none" && !witnesses.has(quorum) && !groups.has(quorum)) throw malformed();
  return { logs, witnesses, groups, quorum };
}

// A word of a tlog-policy line: split at spaces and tabs, free of control characters.
function isPolicyName(name) {
  return Boolean(name) && name !== "none" && !/[\x00-\x20\x7f]/.test(name);
}

function readGroups(raw, witnesses, malformed) {
  const groups = new Map();
  const inAGroup = new Set();
  for (const [name, group] of Object.entries(raw)) {
    if (!isPolicyName(name) || witnesses.has(name) || !isPlainObject(group)) throw malformed();
    const { threshold, members } = group;
    if (!Array.isArray(members) || !members.length) throw malformed();
    for (const member of members) {
      const known = witnesses.has(member) || Object.hasOwn(raw, member);
      if (typeof member !== "string" || !known || member === name || inAGroup.has(member)) {
        throw malformed();
      }
      inAGroup.add(member); // a witness or group may belong to one group only
    }
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > members.length) {
      throw malformed();
    }
    groups.set(name, { threshold, members });
  }
  // Python's "defined above" rule makes cycles impossible; JSON has no "above", so look for them.
  const visiting = new Set();
  const acyclic = (name) => {
    if (!groups.has(name)) return true;
    if (visiting.has(name)) return false;
    visiting.add(name);
    const ok = groups.get(name).members.every(acyclic);
    visiting.delete(name);
    return ok;
  };
  if (![...groups.keys()].every(acyclic)) throw malformed();
  return groups;
}

/** LogPolicy.quorum_met: "none", a witness who cosigned, or a group with enough members met. */
function quorumMet(trust, cosigned, name = trust.quorum) {
  if (name === "none") return true;
  if (trust.witnesses.has(name)) return cosigned.has(name);
  const group = trust.groups.get(name);
  return group.members.filter((m) => quorumMet(trust, cosigned, m)).length >= group.threshold;
}

/** members.txt as JSON, [{org, vkey, revoked_at}]; throws VerifyError (step 0) where
 * ledger.core.policy.parse_members would refuse the same lines. */
async function readMembers(members) {
  const malformed = () => new VerifyError(t("the member key list is malformed"));
  if (!Array.isArray(members)) throw malformed();
  const keys = [];
  for (const item of members) {
    if (!isPlainObject(item) || typeof item.org !== "string" || !item.org) throw malformed();
    if (PY_SPACE_CHAR.test(item.org) || item.org.startsWith("#")) throw malformed();
    const revokedAt = item.revoked_at ?? null;
    if (revokedAt !== null && !isIndex(revokedAt)) throw malformed();
    const verifier = await instead(malformed(), () => parseVkeyOfType(item.vkey, SIG_ED25519));
    if (keys.some((k) => k.org === item.org && k.verifier.id === verifier.id)) throw malformed();
    keys.push({ org: item.org, verifier, revokedAt });
  }
  return keys;
}

// --- Merkle proofs (RFC 9162), as ledger.core.merkle ---------------------------------------------

const LEAF_PREFIX = [0x00];
const NODE_PREFIX = [0x01];
// SHA-256 of nothing: the root of the empty tree.
const EMPTY_ROOT = Uint8Array.from(
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g),
  (h) => parseInt(h, 16),
);

export async function leafHash(bytes) {
  return sha256(concat(LEAF_PREFIX, bytes));
}

async function nodeHash(left, right) {
  return sha256(concat(NODE_PREFIX, left, right));
}

// Indexes and sizes become BigInt, so the bit arithmetic below is exact past 2^32.
function checkedInt(value) {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (Number.isInteger(value) && value >= 0) return BigInt(value);
  throw new VerifyError(t("a proof index or tree size is not a non-negative integer"));
}

function checkedHash(value) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_LEN) {
    throw new VerifyError(t("a hash in the proof is not 32 bytes"));
  }
  return value;
}

function checkedProof(proof) {
  if (proof === null || proof === undefined) return [];
  if (!Array.isArray(proof)) throw new VerifyError(t("the proof is not a list of hashes"));
  return proof.map(checkedHash);
}

/** Check that `leaf` is leaf `index` of the tree (`size`, `root`) by RFC 9162 2.1.3.2; throws
 * VerifyError exactly when ledger.core.merkle.verify_inclusion raises ProofError. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  const [fn0, sn0] = [checkedInt(index), checkedInt(size)];
  [leaf, root] = [checkedHash(leaf), checkedHash(root)];
  const path = checkedProof(proof);
  if (fn0 >= sn0) throw new VerifyError(t("the entry index is outside the tree"));
  let [fn, sn, r] = [fn0, sn0 - 1n, leaf];
  for (const p of path) {
    if (sn === 0n) throw new VerifyError(t("the inclusion proof is longer than the tree is deep"));
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      r = await nodeHash(r, p);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw new VerifyError(t("the inclusion proof is shorter than the tree is deep"));
  if (!equalBytes(r, root)) {
    throw new VerifyError(t("the inclusion proof does not lead to the root"));
  }
}

/** Check that the tree (size2, root2) extends (size1, root1) by RFC 9162 2.1.4.2; throws
 * VerifyError exactly when ledger.core.merkle.verify_consistency raises ProofError. */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const [m, n] = [checkedInt(size1), checkedInt(size2)];
  [root1, root2] = [checkedHash(root1), checkedHash(root2)];
  let path = checkedProof(proof);
  if (n < m) throw new VerifyError(t("the second tree is smaller than the first"));
  if (m === n || m === 0n) {
    if (path.length) throw new VerifyError(t("the consistency proof should be empty"));
    const expected = m === n ? root2 : EMPTY_ROOT;
    if (!equalBytes(root1, expected)) {
      throw new VerifyError(t("the consistency proof does not lead to the first root"));
    }
    return;
  }
  if (!path.length) throw new VerifyError(t("the consistency proof is empty"));
  if ((m & (m - 1n)) === 0n) path = [root1, ...path]; // a power of two: root1 is the first subtree
  let [fn, sn] = [m - 1n, n - 1n];
  while ((fn & 1n) === 1n) [fn, sn] = [fn >> 1n, sn >> 1n];
  let [fr, sr] = [path[0], path[0]];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new VerifyError(t("the consistency proof is too long"));
    if ((fn & 1n) === 1n || fn === sn) {
      [fr, sr] = [await nodeHash(c, fr), await nodeHash(c, sr)];
      while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      sr = await nodeHash(sr, c);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw new VerifyError(t("the consistency proof is too short"));
  if (!equalBytes(fr, root1)) {
    throw new VerifyError(t("the consistency proof does not lead to the first root"));
  }
  if (!equalBytes(sr, root2)) {
    throw new VerifyError(t("the consistency proof does not lead to the second root"));
  }
}

// --- the signed envelope, as ledger.core.envelope ------------------------------------------------

const DOMAIN = "sealchain/tx/v1\n";
const ENVELOPE_FIELDS = ["body", "key", "nonce", "org", "sig", "ts", "type", "v"];
const TYPE_RE = /^[a-z][a-z0-9_-]{0,31}(\.[a-z][a-z0-9_-]{0,31}){1,3}$/;
const ORG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KEY_RE = /^[0-9a-f]{8}$/;
const TS_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{3}Z$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Check the envelope schema as ledger.core.envelope.envelope_from_dict does; throws VerifyError
 * (step 0) where it raises. Returns the fields, the signature bytes, the signed message, the
 * entry bytes (JCS with "sig": the Merkle leaf data) and the bytes tx_id hashes (JCS without). */
function readEnvelope(value) {
  const invalid = (field) =>
    new VerifyError(t("the entry's field %(field)s is invalid", { field }));
  if (!isPlainObject(value)) throw new VerifyError(t("the entry is not a JSON object"));
  if (!hasExactly(value, ENVELOPE_FIELDS)) {
    throw new VerifyError(t("the entry does not have exactly the fields of a signed envelope"));
  }
  if (value.v !== 1) throw invalid("v");
  const patterns = { type: TYPE_RE, org: ORG_RE, key: KEY_RE, ts: TS_RE };
  for (const [field, pattern] of Object.entries(patterns)) {
    if (typeof value[field] !== "string" || !pattern.test(value[field])) throw invalid(field);
  }
  if (!isRealTime(value.ts)) throw invalid("ts");
  const nonce = nonceLength(value.nonce);
  if (nonce === null || nonce < 16 || nonce > 64) throw invalid("nonce");
  if (!isPlainObject(value.body)) throw invalid("body");
  const sig = b64decodeOrNull(value.sig);
  if (!sig || sig.length !== 64) throw invalid("sig");
  const { sig: _, ...unsigned } = value;
  let unsignedBytes, raw;
  try {
    unsignedBytes = utf8(canonicalJSON(unsigned));
    raw = utf8(canonicalJSON(value));
  } catch {
    throw new VerifyError(t("the entry cannot be written as canonical JSON"));
  }
  if (raw.length > MAX_ENTRY_BYTES) throw new VerifyError(t("an entry is larger than 64 KiB"));
  return {
    type: value.type,
    org: value.org,
    key: value.key,
    body: value.body,
    sig,
    signedMessage: concat(utf8(DOMAIN), unsignedBytes),
    unsignedBytes,
    raw,
  };
}

/** A real UTC time (as Python's datetime.fromisoformat checks): no 30 February, no hour 24. */
function isRealTime(ts) {
  const [year, month, day, hour, minute, second] = TS_RE.exec(ts).slice(1).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const dateOk = year >= 1 && days !== undefined && day >= 1 && day <= days;
  return dateOk && hour <= 23 && minute <= 59 && second <= 59;
}

/** Bytes in an unpadded base64url nonce with one spelling only, or null. */
function nonceLength(nonce) {
  if (typeof nonce !== "string" || !B64URL_RE.test(nonce)) return null;
  const standard = nonce.replaceAll("-", "+").replaceAll("_", "/");
  const padded = standard + "=".repeat((4 - (standard.length % 4)) % 4);
  return b64decodeOrNull(padded)?.length ?? null;
}

// --- receipts, as ledger.core.receipt ------------------------------------------------------------

const DATA_FIELD = "sha256";

/** Verify a receipt {entry, index, proof: [base64], checkpoint} offline against `policy` (the
 * JSON of policy_json) and `members` ([{org, vkey, revoked_at}], members.txt), in the steps of
 * ledger.core.receipt.verify_receipt; a VerifyError's `step` is the step at which Python raises
 * ReceiptInvalid. Step 0 is what Python refuses before verifying: a receipt, policy or member
 * list that is malformed. Returns {steps, index, size, envelope, txId, witnesses}. */
export async function verifyReceipt(receipt, policy, members, { data } = {}) {
  // (0) the receipt, the trust policy and the member keys are well formed
  const { entry, index, proof, checkpoint: noteText } = readReceipt(receipt);
  const trust = await readPolicy(policy);
  const keys = await readMembers(members);
  if (data !== undefined && data !== null && !(data instanceof Uint8Array)) {
    throw new VerifyError(t("the data to check against the entry is not bytes"));
  }
  const steps = [];

  // (1) envelope signature by a key the named org held at this index
  const envelope = await atStep(1, () => readEnvelope(entry));
  const memberKey = keys.find((k) => k.org === envelope.org && k.verifier.id === envelope.key);
  if (!memberKey) {
    throw new VerifyError(
      t("key %(key)s is not a key of %(org)s", { key: envelope.key, org: envelope.org }),
      1,
    );
  }
  if (memberKey.revokedAt !== null && index >= memberKey.revokedAt) {
    throw new VerifyError(
      t("key %(key)s of %(org)s was revoked at entry %(revoked)s, before entry %(index)s", {
        key: envelope.key,
        org: envelope.org,
        revoked: memberKey.revokedAt,
        index,
      }),
      1,
    );
  }
  if (!(await ed25519Verify(memberKey.verifier.key, envelope.sig, envelope.signedMessage))) {
    throw new VerifyError(
      t("the signature by %(org)s key %(key)s does not verify", {
        org: envelope.org,
        key: envelope.key,
      }),
      1,
    );
  }
  steps.push(1);

  // (2) leaf hash and inclusion proof against the checkpoint's root (its signature is step 3)
  const note = await atStep(2, () => parseNote(noteText));
  const checkpoint = await atStep(2, () => parseCheckpoint(note.text));
  const leaf = await leafHash(envelope.raw);
  await atStep(2, () => verifyInclusion(index, checkpoint.size, leaf, proof, checkpoint.root));
  steps.push(2);

  // (3) the log's signature on that checkpoint, by any policy key of its origin (a log that
  // rotates its key is listed once per key), as ledger.core.receipt.verify_log_signature
  await atStep(3, () => logSigners(note, checkpoint, trust));
  steps.push(3);

  // (4) witness cosignatures meet the quorum
  const witnesses = await atStep(4, () => witnessesWhoCosigned(note, trust));
  if (!quorumMet(trust, new Set(witnesses))) throw new VerifyError(quorumMessage(witnesses), 4);
  steps.push(4);

  // (5) optional data against the digest the entry commits to
  if (data !== undefined && data !== null) {
    const committed = envelope.body[DATA_FIELD];
    if (typeof committed !== "string") {
      throw new VerifyError(t("the entry commits to no digest to check the data against"), 5);
    }
    if (hex(await sha256(data)) !== committed.toLowerCase()) {
      throw new VerifyError(t("the data does not match the digest in the entry"), 5);
    }
    steps.push(5);
  }

  const txId = hex(await sha256(envelope.unsignedBytes));
  return { steps, index, size: checkpoint.size, envelope: entry, txId, witnesses };
}

/** The JSON receipt's shape, as ledger.core.receipt.receipt_from_json checks it (step 0). */
function readReceipt(receipt) {
  const malformed = () => new VerifyError(t("the receipt is malformed"));
  if (!isPlainObject(receipt)) throw malformed();
  if (!hasExactly(receipt, ["entry", "index", "proof", "checkpoint"])) throw malformed();
  const { entry, index, proof, checkpoint } = receipt;
  if (!isPlainObject(entry) || !isIndex(index) || !Array.isArray(proof)) throw malformed();
  if (typeof checkpoint !== "string") throw malformed();
  let hashes;
  try {
    hashes = proof.map(b64decode);
  } catch {
    throw new VerifyError(t("the receipt's proof hashes are not in strict base64"));
  }
  return { entry, index, proof: hashes, checkpoint };
}

// --- governance, as ledger/service/membership.py -------------------------------------------------

const ADMIN_ROLE = "ledger.admin";
const GENESIS = "ledger.genesis";
const ROLE_RE = /^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*$/;
const WITNESS_NAME_RE = /^[A-Za-z0-9._-]+$/;
// Unicode White_Space, which the genesis origin may not contain (pydantic's \s).
const ORIGIN_RE = /^[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]+$/;

/** Members and keys as the governance entries replayed so far define them. Keys are per org
 * (two orgs may share a key id); each remembers when it was added and revoked, and each org when
 * it was admitted and when its `active` flag changed, so that step 4 can ask about any index. */
class Directory {
  constructor() {
    // org -> {name, roles: Set, filing, active, addedAt, changes: [{at, active}]}
    this.orgs = new Map();
    this.keys = new Map(); // org -> Map(key id -> {verifier, addedAt, revokedAt})
  }

  admit(org, { name, roles, filing }, verifiers, at) {
    const member = { name, roles: new Set(roles), filing, active: true, addedAt: at, changes: [] };
    this.orgs.set(org, member);
    this.keys.set(org, new Map());
    for (const verifier of verifiers) this.addKey(org, verifier, at);
  }

  addKey(org, verifier, at) {
    this.keys.get(org).set(verifier.id, { verifier, addedAt: at, revokedAt: null });
  }

  key(org, id) {
    return this.keys.get(org)?.get(id) ?? null;
  }

  /** The key `id` of `org` if it may sign the entry at `index`: added at or before it and not
   * revoked at or before it (ledger.core.policy.MemberKey.valid_at). */
  keyAt(org, id, index) {
    const key = this.key(org, id);
    if (!key || key.addedAt > index) return null;
    return key.revokedAt === null || index < key.revokedAt ? key : null;
  }

  /** Was `org` an active member for the entry at `index`: admitted at or before it, and not
   * deactivated by an update before it. */
  activeAt(org, index) {
    const member = this.orgs.get(org);
    if (!member || member.addedAt > index) return false;
    let active = true;
    for (const change of member.changes) if (change.at < index) active = change.active;
    return active;
  }

  /** org -> {name, roles: Set, active, filing}: what the page may show about its parties. */
  summary() {
    const members = new Map();
    for (const [org, m] of this.orgs) {
      const { name, roles, active, filing } = m;
      members.set(org, { name, roles: new Set(roles), active, filing });
    }
    return members;
  }
}

/** Replay the governance entries in index order (step 3): genesis at index 0, then member and
 * key changes, each checked by the state rules of membership.check_governance and signed by an
 * active admin org with a key it held then. `checkpointSigners` are the log keys that signed the
 * checkpoint: genesis must name one of them. */
async function replayGovernance(entries, checkpointSigners, trust) {
  const first = entries[0];
  if (!first || first.index !== 0 || first.envelope.type !== GENESIS) {
    throw new VerifyError(t("the proof bundle lacks the ledger's genesis entry (entry 0)"));
  }
  const directory = new Directory();
  for (const entry of entries) {
    const { type } = entry.envelope;
    if (!type.startsWith("ledger.")) continue;
    const index = entry.index;
    if (type === GENESIS) {
      if (index !== 0) {
        throw new VerifyError(t("entry %(index)s is a second genesis entry", { index }));
      }
      await applyGenesis(directory, entry, checkpointSigners, trust);
      continue;
    }
    if (!Object.hasOwn(CHANGES, type)) {
      throw new VerifyError(
        t("entry %(index)s has the unknown governance type %(type)s", { index, type }),
      );
    }
    const signer = directory.orgs.get(entry.envelope.org);
    if (!signer || !signer.active || !signer.roles.has(ADMIN_ROLE)) {
      throw new VerifyError(
        t(
          "entry %(index)s changes the membership, but %(org)s is not an active admin at that index",
          { index, org: entry.envelope.org },
        ),
      );
    }
    await checkSigner(directory, entry);
    await CHANGES[type](directory, entry, readBody(entry, BODY_FIELDS[type]));
  }
  return directory;
}

async function applyGenesis(directory, entry, checkpointSigners, trust) {
  const body = readBody(entry, BODY_FIELDS[GENESIS]);
  const bad = malformedBody(entry);
  if (!isText(body.consortium, 100) || !isText(body.origin, 200)) throw bad;
  if (!ORIGIN_RE.test(body.origin)) throw bad;
  const log = await instead(bad, () => parseVkeyOfType(body.log, SIG_ED25519));
  if (log.name !== body.origin) throw bad;
  const specs = body.members;
  if (!Array.isArray(specs) || !specs.length || specs.length > 1000) throw bad;
  const founders = [];
  for (const spec of specs) founders.push(await readMemberSpec(entry, spec));
  const orgs = founders.map((f) => f.org);
  if (new Set(orgs).size !== orgs.length) throw bad;
  const admins = body.admins;
  if (!Array.isArray(admins) || !admins.length) throw bad;
  if (!admins.every((admin) => isOrg(admin) && orgs.includes(admin))) throw bad;
  await readWitnesses(entry, body.witnesses ?? [], orgs);

  // The log key genesis names is the log this bundle's checkpoint must come from.
  if (!trust.logs.some((l) => sameVerifier(l, log))) {
    throw new VerifyError(
      t("the log key %(id)s named by the genesis entry is not in the trust policy", { id: log.id }),
    );
  }
  if (!checkpointSigners.some((l) => sameVerifier(l, log))) {
    throw new VerifyError(
      t("the checkpoint is not signed by the log key %(id)s named by the genesis entry", {
        id: log.id,
      }),
    );
  }
  for (const founder of founders) {
    const roles = admins.includes(founder.org) ? [...founder.roles, ADMIN_ROLE] : founder.roles;
    directory.admit(founder.org, { ...founder, roles }, founder.verifiers, 0);
  }
  if (!admins.includes(entry.envelope.org)) {
    throw new VerifyError(
      t("the genesis entry must be signed by an admin org, not %(org)s", {
        org: entry.envelope.org,
      }),
    );
  }
  await checkSigner(directory, entry);
}

// Each governance type: its body's [required, optional] fields, and what it changes.
const BODY_FIELDS = {
  [GENESIS]: [["consortium", "origin", "log", "admins", "members"], ["witnesses", "quorum"]],
  "ledger.member.add": [["org", "name", "roles", "vkeys"], ["filing"]],
  "ledger.member.update": [["org"], ["name", "roles", "filing", "active"]],
  "ledger.key.add": [["org", "vkey"], []],
  "ledger.key.revoke": [["org", "key"], ["reason"]],
};

const CHANGES = {
  "ledger.member.add": async (directory, entry, body) => {
    const spec = await readMemberSpec(entry, body);
    if (directory.orgs.has(spec.org)) {
      throw new VerifyError(
        t("entry %(index)s admits %(org)s, which is already a member", {
          index: entry.index,
          org: spec.org,
        }),
      );
    }
    directory.admit(spec.org, spec, spec.verifiers, entry.index);
  },

  "ledger.member.update": async (directory, entry, body) => {
    const bad = malformedBody(entry);
    const given = (field) => body[field] !== undefined && body[field] !== null; // null: unchanged
    if (!isOrg(body.org)) throw bad;
    if (given("name") && !isText(body.name, 200)) throw bad;
    if (given("roles") && !isRoles(body.roles)) throw bad;
    if (given("filing") && !isFreeText(body.filing, 100)) throw bad;
    const active = given("active") ? laxBool(body.active) : null;
    if (given("active") && active === null) throw bad;
    const member = directory.orgs.get(body.org);
    if (!member) {
      throw new VerifyError(
        t("entry %(index)s updates %(org)s, which is not a member", {
          index: entry.index,
          org: body.org,
        }),
      );
    }
    keepAnAdmin(directory, entry, body.org, member, given("roles") ? body.roles : null, active);
    if (given("name")) member.name = body.name;
    if (given("roles")) member.roles = new Set(body.roles);
    if (given("filing")) member.filing = body.filing;
    if (active !== null) {
      member.active = active;
      member.changes.push({ at: entry.index, active });
    }
  },

  "ledger.key.add": async (directory, entry, body) => {
    const bad = malformedBody(entry);
    if (!isOrg(body.org)) throw bad;
    const verifier = await instead(bad, () => parseVkeyOfType(body.vkey, SIG_ED25519));
    if (!directory.orgs.has(body.org)) {
      throw new VerifyError(
        t("entry %(index)s gives a key to %(org)s, which is not a member", {
          index: entry.index,
          org: body.org,
        }),
      );
    }
    if (directory.key(body.org, verifier.id)) {
      throw new VerifyError(
        t("entry %(index)s gives %(org)s a key id it already has", {
          index: entry.index,
          org: body.org,
        }),
      );
    }
    directory.addKey(body.org, verifier, entry.index);
  },

  "ledger.key.revoke": async (directory, entry, body) => {
    const bad = malformedBody(entry);
    if (!isOrg(body.org) || typeof body.key !== "string" || !KEY_RE.test(body.key)) throw bad;
    if (body.reason !== undefined && !isFreeText(body.reason, 500)) throw bad;
    const key = directory.key(body.org, body.key);
    const params = { index: entry.index, org: body.org, key: body.key };
    if (!key) {
      throw new VerifyError(
        t("entry %(index)s revokes key %(key)s, which %(org)s does not have", params),
      );
    }
    if (key.revokedAt !== null) {
      throw new VerifyError(
        t("entry %(index)s revokes key %(key)s of %(org)s, which is already revoked", params),
      );
    }
    if (entry.envelope.org === body.org && entry.envelope.key === body.key) {
      throw new VerifyError(t("entry %(index)s is signed by the key it revokes", params));
    }
    key.revokedAt = entry.index;
  },
};

/** membership._keep_an_admin: no update may leave the ledger without an active admin that holds
 * an unrevoked key; the live pipeline refuses such an update, so a log that holds one is wrong. */
function keepAnAdmin(directory, entry, org, member, roles, active) {
  const dropsRole = roles !== null && !roles.includes(ADMIN_ROLE);
  if (!member.roles.has(ADMIN_ROLE) || (active !== false && !dropsRole)) return;
  for (const [other, m] of directory.orgs) {
    if (other === org || !m.active || !m.roles.has(ADMIN_ROLE)) continue;
    for (const key of directory.keys.get(other).values()) if (key.revokedAt === null) return;
  }
  throw new VerifyError(
    t("entry %(index)s would leave the ledger without an active admin", { index: entry.index }),
  );
}

function readBody(entry, [required, optional]) {
  const body = entry.envelope.body;
  const known = (field) => required.includes(field) || optional.includes(field);
  if (!required.every((f) => Object.hasOwn(body, f)) || !Object.keys(body).every(known)) {
    throw malformedBody(entry);
  }
  return body;
}

function malformedBody(entry) {
  return new VerifyError(
    t("entry %(index)s has a malformed %(type)s body", {
      index: entry.index,
      type: entry.envelope.type,
    }),
  );
}

async function readMemberSpec(entry, spec) {
  const bad = malformedBody(entry);
  if (!isPlainObject(spec)) throw bad;
  const fields = Object.keys(spec);
  const allowed = ["org", "name", "roles", "vkeys", "filing"];
  if (!fields.every((f) => allowed.includes(f))) throw bad;
  if (!["org", "name", "roles", "vkeys"].every((f) => fields.includes(f))) throw bad;
  const filing = spec.filing ?? ""; // absent is "", but null is no string
  if (!isOrg(spec.org) || !isText(spec.name, 200) || !isRoles(spec.roles)) throw bad;
  if (spec.filing === null || !isFreeText(filing, 100)) throw bad;
  if (!Array.isArray(spec.vkeys) || !spec.vkeys.length || spec.vkeys.length > 16) throw bad;
  const verifiers = [];
  for (const vkey of spec.vkeys) {
    verifiers.push(await instead(bad, () => parseVkeyOfType(vkey, SIG_ED25519)));
  }
  if (new Set(verifiers.map((v) => v.id)).size !== verifiers.length) throw bad;
  return { org: spec.org, name: spec.name, roles: spec.roles, filing, verifiers };
}

async function readWitnesses(entry, witnesses, orgs) {
  const bad = malformedBody(entry);
  if (!Array.isArray(witnesses)) throw bad;
  for (const w of witnesses) {
    if (!isPlainObject(w) || !hasExactly(w, ["org", "name", "vkey"])) throw bad;
    if (!isOrg(w.org) || !orgs.includes(w.org)) throw bad;
    if (!isText(w.name, 64) || !WITNESS_NAME_RE.test(w.name)) throw bad;
    await instead(bad, () => parseVkeyOfType(w.vkey, SIG_COSIGNATURE_V1));
  }
}

const isOrg = (value) => typeof value === "string" && ORG_RE.test(value);
// Lengths in code points, as Python (and pydantic) count them.
const isFreeText = (value, max) => typeof value === "string" && [...value].length <= max;
const isText = (value, max) => isFreeText(value, max) && value.length > 0;
const isRoles = (value) =>
  Array.isArray(value) &&
  value.length <= 32 &&
  value.every((r) => typeof r === "string" && ROLE_RE.test(r) && r.length <= 64);

/** A boolean as pydantic reads one in lax mode (the pipeline validates bodies that way): true,
 * false, 0, 1, or a word such as "yes" or "off"; null for anything else. */
function laxBool(value) {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value !== "string") return null;
  const word = value.toLowerCase();
  if (["1", "on", "t", "true", "y", "yes"].includes(word)) return true;
  if (["0", "off", "f", "false", "n", "no"].includes(word)) return false;
  return null;
}

/** Step 4 for one entry: its org was an active member at its index, it signed with a key the org
 * held then, and the signature verifies. Checked once per entry (governance entries in step 3). */
async function checkSigner(directory, entry) {
  if (entry.signerChecked) return;
  const { org, key: id } = entry.envelope;
  const index = entry.index;
  if (!directory.activeAt(org, index)) {
    throw new VerifyError(
      t("entry %(index)s is signed for %(org)s, which is not an active member at that index", {
        index,
        org,
      }),
    );
  }
  const key = directory.keyAt(org, id, index);
  if (!key) {
    const revokedAt = directory.key(org, id)?.revokedAt ?? null;
    if (revokedAt !== null && index >= revokedAt) {
      throw new VerifyError(
        t(
          "entry %(index)s is signed with key %(key)s of %(org)s, which was revoked at entry %(revoked)s",
          { index, org, key: id, revoked: revokedAt },
        ),
      );
    }
    throw new VerifyError(
      t("entry %(index)s is signed with key %(key)s, which %(org)s did not hold at that index", {
        index,
        org,
        key: id,
      }),
    );
  }
  if (!(await ed25519Verify(key.verifier.key, entry.envelope.sig, entry.envelope.signedMessage))) {
    throw new VerifyError(t("entry %(index)s: the signature does not verify", { index }));
  }
  entry.signerChecked = true;
}

// --- page bundles (ledger/service/bundles.py) ----------------------------------------------------

/** Verify a page bundle {checkpoint, policy, entries: [{index, entry, proof}]} in numbered steps:
 *
 * (1) the checkpoint opens with the bundle's trust policy: log signature, cosignatures, quorum;
 * (2) every entry is strict base64 of the canonical JSON of a signed envelope, entries come sorted
 *     by index, each once, and each inclusion proof leads to the checkpoint's root;
 * (3) governance is replayed in index order from the signed entries alone: genesis at entry 0
 *     (the founding members, their keys and roles, and the log key, which must be the one that
 *     signed the checkpoint), then member and key changes, each signed by an active admin org;
 * (4) every entry is signed by a key its org held at that index (added at or before it, not
 *     revoked at or before it), while the org was an active member.
 *
 * The trust policy comes with the bundle, so a page must also show or compare `checkpoint.logId`
 * against the log key it trusts. A bundle cannot prove that it holds every governance entry: an
 * omitted key.add or member.add fails step 4, but an omitted revocation or deactivation goes
 * unseen here (the audit and the witnesses, who see the whole log, catch those).
 *
 * Returns {checkpoint, entries: [{index, type, org, body, txId, envelope}], members: Map(org ->
 * {name, roles: Set, active, filing})}, entries in index order, app and governance alike. */
export async function verifyBundle(bundle) {
  if (!isPlainObject(bundle) || !Array.isArray(bundle.entries)) {
    throw new VerifyError(t("the proof bundle is malformed"));
  }

  // (1) the checkpoint, signed by the log and cosigned by a quorum of witnesses
  const trust = await atStep(1, () => readPolicy(bundle.policy));
  const opened = await atStep(1, () => openWith(bundle.checkpoint, trust));

  // (2) every entry decoded, canonical, an envelope, and included in the checkpoint's tree
  const entries = await atStep(2, () => readEntries(bundle.entries, opened.checkpoint));

  // (3) governance replayed from the signed entries
  const directory = await atStep(3, () => replayGovernance(entries, opened.signers, trust));

  // (4) every entry signed by a key its org held at that index
  for (const entry of entries) await atStep(4, () => checkSigner(directory, entry));

  return {
    checkpoint: { ...opened.checkpoint, logId: opened.signers[0].id, cosigners: opened.cosigners },
    entries: entries.map(({ index, envelope, value, txId }) => ({
      index,
      type: envelope.type,
      org: envelope.org,
      body: envelope.body,
      txId,
      envelope: value,
    })),
    members: directory.summary(),
  };
}

async function readEntries(items, checkpoint) {
  const entries = [];
  let previous = -1;
  for (const item of items) {
    if (!isPlainObject(item) || !isIndex(item.index) || !Array.isArray(item.proof)) {
      throw new VerifyError(t("an entry of the proof bundle is malformed"));
    }
    const index = item.index;
    if (index === previous) {
      throw new VerifyError(t("entry %(index)s appears twice in the proof bundle", { index }));
    }
    if (index < previous) {
      throw new VerifyError(t("the entries of the proof bundle are not sorted by index"));
    }
    previous = index;
    const bytes = await instead(
      new VerifyError(t("entry %(index)s is not in strict base64", { index })),
      () => b64decode(item.entry),
    );
    const proof = await instead(
      new VerifyError(
        t("the inclusion proof of entry %(index)s is not in strict base64", { index }),
      ),
      () => item.proof.map(b64decode),
    );
    const value = await instead(
      new VerifyError(t("entry %(index)s is not canonical JSON", { index })),
      () => parseCanonical(bytes),
    );
    const envelope = await instead(
      new VerifyError(t("entry %(index)s is not a valid signed envelope", { index })),
      () => readEnvelope(value),
    );
    if (index >= checkpoint.size) {
      throw new VerifyError(
        tn(
          "entry %(index)s is beyond the checkpoint, which covers %(n)s entry",
          "entry %(index)s is beyond the checkpoint, which covers %(n)s entries",
          checkpoint.size,
          { index },
        ),
      );
    }
    await instead(
      new VerifyError(
        t("the inclusion proof of entry %(index)s does not lead to the checkpoint's root", {
          index,
        }),
      ),
      async () => {
        const leaf = await leafHash(bytes);
        await verifyInclusion(index, checkpoint.size, leaf, proof, checkpoint.root);
      },
    );
    entries.push({ index, envelope, value, txId: hex(await sha256(envelope.unsignedBytes)) });
  }
  return entries;
}

// --- the verdict ---------------------------------------------------------------------------------

/** Show the outcome in the page's #verdict element (text, class and data-verdict for tests). */
export function showVerdict(ok, text) {
  const verdict = document.getElementById("verdict");
  if (!verdict) return;
  const word = ok ? "verified" : "failed";
  verdict.textContent = text;
  verdict.className = "verdict " + word;
  verdict.dataset.verdict = word;
}
