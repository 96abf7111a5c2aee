// The governance replay, as ledger/service/membership.py (check_governance, apply_governance):
// genesis at entry 0, naming the log key that signed the checkpoint, then member and key
// changes, each by the state rules of the live pipeline and signed by an active admin org.
// Step 3 of a page bundle.

import { instead, t, VerifyError } from "./messages.js";
import { parseVkeyOfType, sameVerifier, SIG_ED25519 } from "./keys.js";
import { KEY_RE } from "./envelope.js";
import {
  isFreeText,
  isOrg,
  isRoles,
  isText,
  laxBool,
  malformedBody,
  readBody,
  readMemberSpec,
  readWitnesses,
} from "./bodies.js";
import { checkSigner, Directory } from "./directory.js";

const ADMIN_ROLE = "ledger.admin";
const GENESIS = "ledger.genesis";
// Unicode White_Space, which the genesis origin may not contain (pydantic's \s).
const ORIGIN_RE = /^[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]+$/;

/** Replay the governance entries in index order (step 3): genesis at index 0, then member and
 * key changes, each checked by the state rules of membership.check_governance and signed by an
 * active admin org with a key it held then. `checkpointSigners` are the log keys that signed the
 * checkpoint: genesis must name one of them. */
export async function replayGovernance(entries, checkpointSigners, trust) {
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
