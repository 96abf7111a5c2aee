// Who may sign which entry: the members and keys that replayed governance defines (the
// in-browser counterpart of GovernanceState in ledger/service/membership.py), asked about any
// index (a key is valid as ledger/core/policy.py's MemberKey.valid_at says), and step 4 of a
// page bundle: each entry signed by a key its org held then, while an active member.

import { t, VerifyError } from "./messages.js";
import { ed25519Verify } from "./keys.js";

/** Members and keys as the governance entries replayed so far define them. Keys are per org
 * (two orgs may share a key id); each remembers when it was added and revoked, and each org when
 * it was admitted and when its `active` flag changed, so that step 4 can ask about any index. */
export class Directory {
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


/** Step 4 for one entry: its org was an active member at its index, it signed with a key the org
 * held then, and the signature verifies. Checked once per entry (governance entries in step 3). */
export async function checkSigner(directory, entry) {
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
