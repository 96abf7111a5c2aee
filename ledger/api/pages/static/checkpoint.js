// Opening a cosigned checkpoint with a trust policy: the log's signature (as
// ledger/core/receipt.py's verify_log_signature), the witnesses' cosignatures, and the quorum
// they must meet (ledger/core/policy.py's quorum_met). Receipts and page bundles both open
// their checkpoint here.

import { t, tn, VerifyError } from "./messages.js";
import { shorten } from "./bytes.js";
import { parseCheckpoint, parseNote, verifiedSigners } from "./note.js";
import { quorumMet, readPolicy } from "./policy.js";

/** Open a cosigned checkpoint with a trust policy (the JSON of ledger.service.bundles.policy_json):
 * (a) the log's signature, by any policy log key named as the origin (a rotated log key is
 * listed beside the old one), (b) every cosignature line of a policy witness verifies, (c) the
 * witnesses who cosigned meet the quorum. Returns {origin, size, root, logId, cosigners}. */
export async function openCheckpoint(noteText, policy) {
  const trust = await readPolicy(policy);
  const { checkpoint, signers, cosigners } = await openWith(noteText, trust);
  return { ...checkpoint, logId: signers[0].id, cosigners };
}

export async function openWith(noteText, trust) {
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
export async function logSigners(note, checkpoint, trust) {
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
export async function witnessesWhoCosigned(note, trust) {
  const named = [...trust.witnesses.entries()];
  const cosigned = await verifiedSigners(note, named.map(([, w]) => w));
  return named.filter(([, w]) => cosigned.includes(w)).map(([name]) => name).sort();
}

export function quorumMessage(cosigners) {
  return tn(
    "the checkpoint is cosigned by %(n)s witness, which does not meet the trust policy's quorum",
    "the checkpoint is cosigned by %(n)s witnesses, which does not meet the trust policy's quorum",
    cosigners.length,
  );
}
