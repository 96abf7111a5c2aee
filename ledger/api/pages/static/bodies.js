// The bodies of governance entries, as the pydantic models of ledger/service/membership.py
// (GenesisBody, MemberSpec, WitnessSpec, MemberUpdate, KeyAdd, KeyRevoke) read them: exact
// fields, orgs, roles, lengths in code points, verifier keys of the right type, and booleans as
// pydantic's lax mode reads them. A body refused here is one the pipeline would have refused.

import { instead, t, VerifyError } from "./messages.js";
import { hasExactly, isPlainObject } from "./json.js";
import { parseVkeyOfType, SIG_COSIGNATURE_V1, SIG_ED25519 } from "./keys.js";
import { ORG_RE } from "./envelope.js";

const ROLE_RE = /^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*$/;
const WITNESS_NAME_RE = /^[A-Za-z0-9._-]+$/;

export function readBody(entry, [required, optional]) {
  const body = entry.envelope.body;
  const known = (field) => required.includes(field) || optional.includes(field);
  if (!required.every((f) => Object.hasOwn(body, f)) || !Object.keys(body).every(known)) {
    throw malformedBody(entry);
  }
  return body;
}

export function malformedBody(entry) {
  return new VerifyError(
    t("entry %(index)s has a malformed %(type)s body", {
      index: entry.index,
      type: entry.envelope.type,
    }),
  );
}

export async function readMemberSpec(entry, spec) {
  const bad = malformedBody(entry);
  if (!isPlainObject(spec)) throw bad;
  const fields = Object.keys(spec);
  const allowed = ["org", "name", "roles", "vkeys", "filing"];
  if (!fields.every((f) => allowed.includes(f))) throw bad;
  if (!["org", "name", "roles", "vkeys"].every((f) => fields.includes(f))) throw bad;
  const filing = spec.filing ?? ""; // absent is "", but null is no string
  if (!isOrg(spec.org) || !isText(spec.name, 200) || !isRoles(spec.roles)) throw bad;
  if (spec.filing === null || !isFreeText(filing, 100)) throw bad;
  if (!Array.isArray(spec.vkeys) || !spec.vkeys.length || spec.vkeys.length > 16) throw bad;
  const verifiers = [];
  for (const vkey of spec.vkeys) {
    verifiers.push(await instead(bad, () => parseVkeyOfType(vkey, SIG_ED25519)));
  }
  if (new Set(verifiers.map((v) => v.id)).size !== verifiers.length) throw bad;
  return { org: spec.org, name: spec.name, roles: spec.roles, filing, verifiers };
}

export async function readWitnesses(entry, witnesses, orgs) {
  const bad = malformedBody(entry);
  if (!Array.isArray(witnesses)) throw bad;
  for (const w of witnesses) {
    if (!isPlainObject(w) || !hasExactly(w, ["org", "name", "vkey"])) throw bad;
    if (!isOrg(w.org) || !orgs.includes(w.org)) throw bad;
    if (!isText(w.name, 64) || !WITNESS_NAME_RE.test(w.name)) throw bad;
    await instead(bad, () => parseVkeyOfType(w.vkey, SIG_COSIGNATURE_V1));
  }
}

export const isOrg = (value) => typeof value === "string" && ORG_RE.test(value);
// Lengths in code points, as Python (and pydantic) count them.
export const isFreeText = (value, max) => typeof value === "string" && [...value].length <= max;
export const isText = (value, max) => isFreeText(value, max) && value.length > 0;
export const isRoles = (value) =>
  Array.isArray(value) &&
  value.length <= 32 &&
  value.every((r) => typeof r === "string" && ROLE_RE.test(r) && r.length <= 64);

/** A boolean as pydantic reads one in lax mode (the pipeline validates bodies that way): true,
 * false, 0, 1, or a word such as "yes" or "off"; null for anything else. */
export function laxBool(value) {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value !== "string") return null;
  const word = value.toLowerCase();
  if (["1", "on", "t", "true", "y", "yes"].includes(word)) return true;
  if (["0", "off", "f", "false", "n", "no"].includes(word)) return false;
  return null;
}
