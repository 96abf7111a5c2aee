// Ed25519 signatures and C2SP signed-note verifier keys, as ledger/core/keys.py: a signature
// verifies or not (WebCrypto), and a verifier key `name+hex8(key id)+base64(type || key)` is
// refused exactly where parse_vkey refuses it, key id recomputed from name, type and key.

import { instead, t, VerifyError } from "./messages.js";
import {
  b64decode,
  concat,
  equalBytes,
  hex,
  PY_SPACE_CHAR,
  PY_STRIP,
  sha256,
  shorten,
  subtle,
  utf8,
} from "./bytes.js";

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

export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

export function checkKeyName(name) {
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

export async function parseVkeyOfType(vkey, type) {
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

export function sameVerifier(a, b) {
  return a.name === b.name && a.type === b.type && equalBytes(a.key, b.key);
}
