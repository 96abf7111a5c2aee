// The signed envelope, as ledger/core/envelope.py: an entry has exactly the envelope's fields,
// each of the form envelope_from_dict accepts (type, org, key id, a real UTC time, nonce, body,
// a 64-byte signature), and yields the bytes the signature covers, the Merkle leaf data and the
// bytes the transaction id hashes.

import { t, VerifyError } from "./messages.js";
import { b64decodeOrNull, concat, utf8 } from "./bytes.js";
import { canonicalJSON, hasExactly, isPlainObject, MAX_ENTRY_BYTES } from "./json.js";

const DOMAIN = "sealchain/tx/v1\n";
const ENVELOPE_FIELDS = ["body", "key", "nonce", "org", "sig", "ts", "type", "v"];
const TYPE_RE = /^[a-z][a-z0-9_-]{0,31}(\.[a-z][a-z0-9_-]{0,31}){1,3}$/;
export const ORG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const KEY_RE = /^[0-9a-f]{8}$/;
const TS_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{3}Z$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Check the envelope schema as ledger.core.envelope.envelope_from_dict does; throws VerifyError
 * (step 0) where it raises. Returns the fields, the signature bytes, the signed message, the
 * entry bytes (JCS with "sig": the Merkle leaf data) and the bytes tx_id hashes (JCS without). */
export function readEnvelope(value) {
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
