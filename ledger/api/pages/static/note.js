// Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint, tlog-cosignature), as
// ledger/core/note.py: the note split into signed text and signature lines, the signatures that
// verify by known keys (one that fails condemns the note), and the checkpoint's origin, size and
// root, each refused where parse_note, verified_signers and parse_checkpoint raise.

import { t, VerifyError } from "./messages.js";
import { b64decode, hex, shorten, utf8 } from "./bytes.js";
import { MAX_SAFE } from "./json.js";
import { checkKeyName, ed25519Verify, sameVerifier, SIG_COSIGNATURE_V1 } from "./keys.js";
import { HASH_LEN } from "./merkle.js";

const SIG_PREFIX = "\u2014 "; // em dash, space
const MAX_SIGNATURES = 64;
const MAX_NOTE_BYTES = 64 * 1024;

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
export function parseCheckpoint(text) {
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
