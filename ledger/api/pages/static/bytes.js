// Bytes and text, as every check handles them: UTF-8, concatenation and comparison, hex, base64
// with one spelling only (as ledger/core/keys.py's b64decode_strict), Python's idea of white
// space, and SHA-256 through the browser's own WebCrypto.

import { t, VerifyError } from "./messages.js";

const encoder = new TextEncoder();
export const utf8 = (text) => encoder.encode(text);

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
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
export function b64decodeOrNull(text) {
  try {
    return b64decode(text);
  } catch {
    return null;
  }
}

// Python's str.isspace(): what ledger.core strips from verifier keys and refuses in key names.
const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
export const PY_SPACE_CHAR = new RegExp("[" + PY_SPACE + "]");
export const PY_STRIP = new RegExp("^[" + PY_SPACE + "]+|[" + PY_SPACE + "]+$", "g");

export function shorten(text) {
  return text.length > 60 ? text.slice(0, 60) + "\u2026" : text;
}

// --- hashing -------------------------------------------------------------------------------------

export function subtle() {
  if (!globalThis.crypto?.subtle) {
    throw new VerifyError(t("this browser cannot verify: WebCrypto is unavailable here"));
  }
  return globalThis.crypto.subtle;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}
