// Page bundles, the proofs behind every public page (ledger/service/bundles.py builds them and
// checks them in Python with verify_page_bundle): verifyBundle runs the four numbered steps below
// (the checkpoint by checkpoint.js, the entries here, governance by governance.js, the signers by
// directory.js) and returns what a page may show.

import { atStep, instead, t, tn, VerifyError } from "./messages.js";
import { b64decode, hex, sha256 } from "./bytes.js";
import { isIndex, isPlainObject, parseCanonical } from "./json.js";
import { leafHash, verifyInclusion } from "./merkle.js";
import { readPolicy } from "./policy.js";
import { openWith } from "./checkpoint.js";
import { readEnvelope } from "./envelope.js";
import { checkSigner } from "./directory.js";
import { replayGovernance } from "./governance.js";

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
