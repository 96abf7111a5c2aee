// JSON as ledger/core/canonical.py reads and writes it: the RFC 8785 (JCS) text that is hashed
// and signed, and entry bytes that must be exactly that text (one reading per entry: no
// duplicate keys, no big integers, no other spelling, not too large or too deep). Also the shape
// checks every reader of parsed JSON uses (plain objects, exact keys, safe indexes).

import { t, VerifyError } from "./messages.js";
import { equalBytes, utf8 } from "./bytes.js";

// --- the shape of parsed JSON --------------------------------------------------------------------

export function isPlainObject(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Does `object` have exactly the own keys `names`, in any order? */
export function hasExactly(object, names) {
  const keys = Object.keys(object);
  return keys.length === names.length && names.every((name) => Object.hasOwn(object, name));
}

/** A non-negative integer a JavaScript number holds exactly, as indexes in receipts and bundles
 * are (ledger.core.canonical refuses integers past 2^53 - 1 in JSON). */
export function isIndex(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

// --- canonical JSON (RFC 8785), as ledger.core.canonical -----------------------------------------

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
export const MAX_ENTRY_BYTES = 64 * 1024;
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
export function parseCanonical(bytes) {
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
