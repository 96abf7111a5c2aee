// Receipts, as ledger/core/receipt.py: verifyReceipt checks one entry offline in the numbered
// steps of verify_receipt (envelope signature by a key the org held, inclusion in the
// checkpoint, the log's signature, the witnesses' quorum, optional data against its digest).

import { atStep, t, VerifyError } from "./messages.js";
import { b64decode, hex, sha256 } from "./bytes.js";
import { hasExactly, isIndex, isPlainObject } from "./json.js";
import { ed25519Verify } from "./keys.js";
import { leafHash, verifyInclusion } from "./merkle.js";
import { parseCheckpoint, parseNote } from "./note.js";
import { quorumMet, readMembers, readPolicy } from "./policy.js";
import { logSigners, quorumMessage, witnessesWhoCosigned } from "./checkpoint.js";
import { readEnvelope } from "./envelope.js";

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
