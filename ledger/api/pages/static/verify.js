// Sealchain's in-browser verifier: the one module every public page imports to check, in the
// reader's own browser, what the page shows. It is the JavaScript twin of ledger/core and must
// agree with it case by case; tests/e2e/test_js_verifier.py runs both on the same vectors (RFC 9162
// Merkle proofs, C2SP signed notes, Wycheproof Ed25519, RFC 8785) and on real and tampered
// receipts and page bundles.
//
// This file only gathers the public names; each check lives in a module of its own, small enough
// to audit in one sitting. Read them in this order (each imports only those above it):
//   messages.js    the reader's sentences (t, tn) and VerifyError, with its step number
//   bytes.js       UTF-8, hex, strict base64, SHA-256
//   json.js        canonical JSON (RFC 8785) and strict entries      ledger/core/canonical.py
//   keys.js        Ed25519 and signed-note verifier keys             ledger/core/keys.py
//   merkle.js      leaf hashes, inclusion and consistency proofs     ledger/core/merkle.py
//   note.js        signed notes, signers, checkpoints                ledger/core/note.py
//   policy.js      the trust policy, member keys, the quorum rule    ledger/core/policy.py
//   checkpoint.js  opening a cosigned checkpoint with a policy       ledger/core/receipt.py
//   envelope.js    the signed envelope                               ledger/core/envelope.py
//   receipt.js     verifyReceipt, in numbered steps                  ledger/core/receipt.py
//   directory.js   who may sign at which index (bundle step 4)       ledger/service/membership.py
//   bodies.js      the bodies of governance entries                  ledger/service/membership.py
//   governance.js  the governance replay (bundle step 3)             ledger/service/membership.py
//   bundle.js      verifyBundle, in numbered steps                   ledger/service/bundles.py
//
// Rules every module keeps:
// - no dependencies and no build step: ES modules served under `script-src 'self'`, so no
//   eval and no inline code; the cryptography is the browser's own WebCrypto (SHA-256, Ed25519);
// - every parser is as strict as its Python twin: where Python refuses an input, so does this,
//   because two verifiers that read one input two ways can be played against each other;
// - every failure is a VerifyError whose message is a sentence for the reader, written through
//   t()/tn() (extracted with Babel: keywords t and tn:1,2), and whose `step` numbers the check
//   that failed as the Python side does (0: the input is malformed).

export { setMessages, t, tn, VerifyError } from "./messages.js";
export { b64decode, b64encode, hex, sha256 } from "./bytes.js";
export { canonicalJSON } from "./json.js";
export { ed25519Verify, parseVkey } from "./keys.js";
export { leafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
export { parseNote, verifiedSigners } from "./note.js";
export { openCheckpoint } from "./checkpoint.js";
export { verifyReceipt } from "./receipt.js";
export { verifyBundle } from "./bundle.js";

// --- the verdict ---------------------------------------------------------------------------------

/** Show the outcome in the page's #verdict element (text, class and data-verdict for tests). */
export function showVerdict(ok, text) {
  const verdict = document.getElementById("verdict");
  if (!verdict) return;
  const word = ok ? "verified" : "failed";
  verdict.textContent = text;
  verdict.className = "verdict " + word;
  verdict.dataset.verdict = word;
}
