// Merkle proofs (RFC 9162), as ledger/core/merkle.py: leaf and node hashes with their domain
// prefixes, and the inclusion and consistency proof checks of RFC 9162 2.1.3.2 and 2.1.4.2,
// which refuse exactly the proofs verify_inclusion and verify_consistency refuse.

import { t, VerifyError } from "./messages.js";
import { concat, equalBytes, sha256 } from "./bytes.js";

const LEAF_PREFIX = [0x00];
const NODE_PREFIX = [0x01];
export const HASH_LEN = 32;
// SHA-256 of nothing: the root of the empty tree.
const EMPTY_ROOT = Uint8Array.from(
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g),
  (h) => parseInt(h, 16),
);

export async function leafHash(bytes) {
  return sha256(concat(LEAF_PREFIX, bytes));
}

async function nodeHash(left, right) {
  return sha256(concat(NODE_PREFIX, left, right));
}

// Indexes and sizes become BigInt, so the bit arithmetic below is exact past 2^32.
function checkedInt(value) {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (Number.isInteger(value) && value >= 0) return BigInt(value);
  throw new VerifyError(t("a proof index or tree size is not a non-negative integer"));
}

function checkedHash(value) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_LEN) {
    throw new VerifyError(t("a hash in the proof is not 32 bytes"));
  }
  return value;
}

function checkedProof(proof) {
  if (proof === null || proof === undefined) return [];
  if (!Array.isArray(proof)) throw new VerifyError(t("the proof is not a list of hashes"));
  return proof.map(checkedHash);
}

/** Check that `leaf` is leaf `index` of the tree (`size`, `root`) by RFC 9162 2.1.3.2; throws
 * VerifyError exactly when ledger.core.merkle.verify_inclusion raises ProofError. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  const [fn0, sn0] = [checkedInt(index), checkedInt(size)];
  [leaf, root] = [checkedHash(leaf), checkedHash(root)];
  const path = checkedProof(proof);
  if (fn0 >= sn0) throw new VerifyError(t("the entry index is outside the tree"));
  let [fn, sn, r] = [fn0, sn0 - 1n, leaf];
  for (const p of path) {
    if (sn === 0n) throw new VerifyError(t("the inclusion proof is longer than the tree is deep"));
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      r = await nodeHash(r, p);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw new VerifyError(t("the inclusion proof is shorter than the tree is deep"));
  if (!equalBytes(r, root)) {
    throw new VerifyError(t("the inclusion proof does not lead to the root"));
  }
}

/** Check that the tree (size2, root2) extends (size1, root1) by RFC 9162 2.1.4.2; throws
 * VerifyError exactly when ledger.core.merkle.verify_consistency raises ProofError. */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const [m, n] = [checkedInt(size1), checkedInt(size2)];
  [root1, root2] = [checkedHash(root1), checkedHash(root2)];
  let path = checkedProof(proof);
  if (n < m) throw new VerifyError(t("the second tree is smaller than the first"));
  if (m === n || m === 0n) {
    if (path.length) throw new VerifyError(t("the consistency proof should be empty"));
    const expected = m === n ? root2 : EMPTY_ROOT;
    if (!equalBytes(root1, expected)) {
      throw new VerifyError(t("the consistency proof does not lead to the first root"));
    }
    return;
  }
  if (!path.length) throw new VerifyError(t("the consistency proof is empty"));
  if ((m & (m - 1n)) === 0n) path = [root1, ...path]; // a power of two: root1 is the first subtree
  let [fn, sn] = [m - 1n, n - 1n];
  while ((fn & 1n) === 1n) [fn, sn] = [fn >> 1n, sn >> 1n];
  let [fr, sr] = [path[0], path[0]];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new VerifyError(t("the consistency proof is too long"));
    if ((fn & 1n) === 1n || fn === sn) {
      [fr, sr] = [await nodeHash(c, fr), await nodeHash(c, sr)];
      while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      sr = await nodeHash(sr, c);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw new VerifyError(t("the consistency proof is too short"));
  if (!equalBytes(fr, root1)) {
    throw new VerifyError(t("the consistency proof does not lead to the first root"));
  }
  if (!equalBytes(sr, root2)) {
    throw new VerifyError(t("the consistency proof does not lead to the second root"));
  }
}
