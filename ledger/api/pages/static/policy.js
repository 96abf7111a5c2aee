// The trust policy and the member keys, as ledger/core/policy.py: the policy JSON (log keys,
// witnesses, groups, quorum) and members.txt as JSON, each refused where parse_log_policy and
// parse_members refuse the same text; and the quorum rule, LogPolicy.quorum_met. Fails closed.

import { instead, t, VerifyError } from "./messages.js";
import { hex, PY_SPACE_CHAR } from "./bytes.js";
import { isIndex, isPlainObject } from "./json.js";
import { parseVkeyOfType, SIG_COSIGNATURE_V1, SIG_ED25519 } from "./keys.js";

/** Read the policy JSON {logs: [vkey], witnesses: {name: vkey}, groups: {name: {threshold,
 * members}}, quorum}; throws VerifyError (step 0) where ledger.core.policy.parse_log_policy would
 * refuse the same policy as text. Fails closed: an unknown quorum name is an error, not "none". */
export async function readPolicy(policy) {
  const malformed = () => new VerifyError(t("the trust policy is malformed"));
  if (!isPlainObject(policy) || !Array.isArray(policy.logs)) throw malformed();
  if (!isPlainObject(policy.witnesses) || !isPlainObject(policy.groups)) throw malformed();
  if (typeof policy.quorum !== "string") throw malformed();
  const logs = [];
  for (const vkey of policy.logs) logs.push(await parseVkeyOfType(vkey, SIG_ED25519));
  const witnesses = new Map();
  for (const [name, vkey] of Object.entries(policy.witnesses)) {
    if (!isPolicyName(name)) throw malformed();
    witnesses.set(name, await parseVkeyOfType(vkey, SIG_COSIGNATURE_V1));
  }
  const keys = [...logs, ...witnesses.values()].map((v) => hex(v.key));
  if (new Set(keys).size !== keys.length) {
    throw new VerifyError(t("the trust policy lists one key twice"));
  }
  const groups = readGroups(policy.groups, witnesses, malformed);
  const quorum = policy.quorum;
  if (quorum !== "none" && !witnesses.has(quorum) && !groups.has(quorum)) throw malformed();
  return { logs, witnesses, groups, quorum };
}

// A word of a tlog-policy line: split at spaces and tabs, free of control characters.
function isPolicyName(name) {
  return Boolean(name) && name !== "none" && !/[\x00-\x20\x7f]/.test(name);
}

function readGroups(raw, witnesses, malformed) {
  const groups = new Map();
  const inAGroup = new Set();
  for (const [name, group] of Object.entries(raw)) {
    if (!isPolicyName(name) || witnesses.has(name) || !isPlainObject(group)) throw malformed();
    const { threshold, members } = group;
    if (!Array.isArray(members) || !members.length) throw malformed();
    for (const member of members) {
      const known = witnesses.has(member) || Object.hasOwn(raw, member);
      if (typeof member !== "string" || !known || member === name || inAGroup.has(member)) {
        throw malformed();
      }
      inAGroup.add(member); // a witness or group may belong to one group only
    }
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > members.length) {
      throw malformed();
    }
    groups.set(name, { threshold, members });
  }
  // Python's "defined above" rule makes cycles impossible; JSON has no "above", so look for them.
  const visiting = new Set();
  const acyclic = (name) => {
    if (!groups.has(name)) return true;
    if (visiting.has(name)) return false;
    visiting.add(name);
    const ok = groups.get(name).members.every(acyclic);
    visiting.delete(name);
    return ok;
  };
  if (![...groups.keys()].every(acyclic)) throw malformed();
  return groups;
}

/** LogPolicy.quorum_met: "none", a witness who cosigned, or a group with enough members met. */
export function quorumMet(trust, cosigned, name = trust.quorum) {
  if (name === "none") return true;
  if (trust.witnesses.has(name)) return cosigned.has(name);
  const group = trust.groups.get(name);
  return group.members.filter((m) => quorumMet(trust, cosigned, m)).length >= group.threshold;
}

/** members.txt as JSON, [{org, vkey, revoked_at}]; throws VerifyError (step 0) where
 * ledger.core.policy.parse_members would refuse the same lines. */
export async function readMembers(members) {
  const malformed = () => new VerifyError(t("the member key list is malformed"));
  if (!Array.isArray(members)) throw malformed();
  const keys = [];
  for (const item of members) {
    if (!isPlainObject(item) || typeof item.org !== "string" || !item.org) throw malformed();
    if (PY_SPACE_CHAR.test(item.org) || item.org.startsWith("#")) throw malformed();
    const revokedAt = item.revoked_at ?? null;
    if (revokedAt !== null && !isIndex(revokedAt)) throw malformed();
    const verifier = await instead(malformed(), () => parseVkeyOfType(item.vkey, SIG_ED25519));
    if (keys.some((k) => k.org === item.org && k.verifier.id === verifier.id)) throw malformed();
    keys.push({ org: item.org, verifier, revokedAt });
  }
  return keys;
}
