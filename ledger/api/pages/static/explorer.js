// The explorer's consistency check, in the reader's browser (templates/explorer.html): for two
// checkpoint sizes it runs three numbered steps and shows each, then one verdict.
//   (1) the earlier checkpoint, fetched as a signed note (GET /v1/checkpoint?size=M): it is the
//       size asked for, signed by a log key of the trust policy, every cosignature by a policy
//       witness verifies, and whether those witnesses meet the quorum (final or not yet);
//   (2) the later checkpoint, the same way, from the same log;
//   (3) the consistency proof between them (GET /v1/proofs/consistency), checked by RFC 9162
//       2.1.4.2 against the two roots the log signed: the later tree holds the earlier one.
// The trust policy is the one the page carries, which the page shows for the reader to compare
// with their own. Nothing the server says about these checkpoints is shown as verified unless
// this script derived it.
import { el, embedded, t, tn } from "./page.js";
import { atStep, instead, setMessages, VerifyError } from "./messages.js";
import { b64decode, b64encode, shorten } from "./bytes.js";
import { isPlainObject } from "./json.js";
import { parseCheckpoint, parseNote } from "./note.js";
import { logSigners, witnessesWhoCosigned } from "./checkpoint.js";
import { quorumMet, readPolicy } from "./policy.js";
import { verifyConsistency } from "./merkle.js";

setMessages(embedded("messages") || {});
const data = embedded("explorer-data") || {};
const form = document.getElementById("consistency-form");
const verdict = document.getElementById("consistency-verdict");
const steps = document.getElementById("consistency-steps");
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

function showVerdict(state, text) {
  verdict.textContent = text;
  verdict.className = "verdict " + (state === "checking" ? "pending" : state);
  verdict.dataset.verdict = state;
  verdict.hidden = false;
}

// One sentence, or several (each on a line of its own).
function addStep(step, ok, sentences) {
  const lines = [sentences].flat().map((sentence) => el("span", {}, sentence));
  steps.append(el("li", { "data-step": step, "data-ok": ok ? "true" : "false" }, lines));
  steps.hidden = false;
}

// --- talking to the server ---------------------------------------------------------------------

async function get(url, accept, notFound) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: accept }, cache: "no-store" });
  } catch (err) {
    throw new VerifyError(t("the server could not be reached: %(reason)s", { reason: err.message }));
  }
  if (response.status === 404) throw new VerifyError(notFound);
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const reason = [problem.title, problem.detail].filter(Boolean).join(": ") || response.statusText;
    throw new VerifyError(
      t("the server answered %(status)s: %(reason)s", { status: response.status, reason }),
    );
  }
  return response;
}

// --- the steps ---------------------------------------------------------------------------------

/** Fetch the checkpoint of `size` and open it with `trust`: {origin, size, root, logId,
 * cosigners, final}. Throws a VerifyError naming the checkpoint. */
async function openCheckpointOfSize(size, trust) {
  const response = await get(
    "/v1/checkpoint?size=" + size,
    "text/plain",
    t("the server has no checkpoint of size %(size)s", { size }),
  );
  const text = await response.text();
  try {
    const note = parseNote(text);
    const checkpoint = parseCheckpoint(note.text);
    if (checkpoint.size !== size) {
      throw new VerifyError(
        t("the server sent the checkpoint of size %(got)s instead", { got: checkpoint.size }),
      );
    }
    const signers = await logSigners(note, checkpoint, trust);
    const cosigners = await witnessesWhoCosigned(note, trust);
    const final = quorumMet(trust, new Set(cosigners));
    return { ...checkpoint, logId: signers[0].id, cosigners, final };
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    throw new VerifyError(t("checkpoint %(size)s: %(reason)s", { size, reason: err.message }));
  }
}

function describeCheckpoint(checkpoint) {
  const parts = [
    t("Checkpoint %(size)s is signed by the log %(origin)s (key %(key)s).", {
      size: checkpoint.size,
      origin: shorten(checkpoint.origin),
      key: checkpoint.logId,
    }),
  ];
  if (checkpoint.cosigners.length) {
    parts.push(
      tn("Cosigned by %(n)s witness: %(names)s.", "Cosigned by %(n)s witnesses: %(names)s.",
        checkpoint.cosigners.length, { names: checkpoint.cosigners.join(", ") }),
    );
  } else {
    parts.push(t("No witness of the trust policy has cosigned it."));
  }
  parts.push(
    checkpoint.final
      ? t("Final: its cosigners meet the trust policy's quorum.")
      : t("Not final yet: its cosigners do not meet the trust policy's quorum."),
  );
  return parts;
}

async function consistencyProof(first, second) {
  const response = await get(
    "/v1/proofs/consistency?first=" + first + "&second=" + second,
    "application/json",
    t("the server has no consistency proof from size %(first)s to %(second)s", { first, second }),
  );
  const malformed = new VerifyError(t("the server's consistency proof is malformed"));
  let answer;
  try {
    answer = await response.json();
  } catch {
    throw malformed;
  }
  if (!isPlainObject(answer) || !Array.isArray(answer.proof)) throw malformed;
  if (answer.first !== first || answer.second !== second) {
    throw new VerifyError(t("the server sent a consistency proof between other sizes"));
  }
  return instead(
    new VerifyError(t("a hash of the consistency proof is not in strict base64")),
    () => answer.proof.map(b64decode),
  );
}

function summary(checkpoint) {
  return {
    size: checkpoint.size,
    origin: checkpoint.origin,
    root: b64encode(checkpoint.root),
    logId: checkpoint.logId,
    cosigners: checkpoint.cosigners,
    final: checkpoint.final,
  };
}

/** Check that the log at `second` extends the log at `first` (sizes, smaller first). */
async function check(first, second) {
  const facts = { first, second };
  globalThis.sealchain = { consistency: facts };
  try {
    const trust = await atStep(1, () => readPolicy(data.policy));
    const earlier = await atStep(1, () => openCheckpointOfSize(first, trust));
    addStep(1, true, describeCheckpoint(earlier));
    facts.earlier = summary(earlier);

    const later = await atStep(2, () => openCheckpointOfSize(second, trust));
    if (later.origin !== earlier.origin) {
      throw new VerifyError(t("the two checkpoints come from different logs"), 2);
    }
    addStep(2, true, describeCheckpoint(later));
    facts.later = summary(later);

    const proof = await atStep(3, () => consistencyProof(first, second));
    await atStep(3, () => verifyConsistency(first, second, proof, earlier.root, later.root));
    facts.proofLength = proof.length;
    addStep(
      3,
      true,
      tn(
        "The consistency proof (%(n)s hash) leads from the root of checkpoint %(first)s to the root of checkpoint %(second)s.",
        "The consistency proof (%(n)s hashes) leads from the root of checkpoint %(first)s to the root of checkpoint %(second)s.",
        proof.length,
        { first, second },
      ),
    );
    facts.ok = true;
    showVerdict(
      "verified",
      t("Verified in your browser: the log at checkpoint %(second)s holds the first %(first)s entries exactly as checkpoint %(first)s did.", { first, second }),
    );
  } catch (err) {
    const reason = err instanceof VerifyError ? err.message : String(err && err.message || err);
    facts.ok = false;
    facts.step = err instanceof VerifyError ? err.step : null;
    facts.reason = reason;
    addStep(facts.step || "?", false, reason);
    showVerdict("failed", t("NOT VERIFIED: %(reason)s", { reason }));
  }
}

// --- the form ----------------------------------------------------------------------------------

function sizeOf(input) {
  const text = input.value.trim();
  if (!/^[0-9]{1,16}$/.test(text)) return null;
  const size = Number(text);
  return size >= 1 && size <= MAX_SIZE ? size : null;
}

let running = false;

async function run() {
  if (running) return;
  steps.replaceChildren();
  steps.hidden = true;
  const a = sizeOf(form.elements.first);
  const b = sizeOf(form.elements.second);
  if (a === null || b === null) {
    showVerdict("failed", t("Enter two checkpoint sizes: whole numbers from 1."));
    return;
  }
  const [first, second] = a <= b ? [a, b] : [b, a];
  const query = new URLSearchParams(location.search);
  query.set("first", String(first));
  query.set("second", String(second));
  history.replaceState(null, "", "?" + query.toString() + "#consistency");
  running = true;
  form.querySelector("button").disabled = true;
  showVerdict("checking", t("Checking in your browser…"));
  try {
    await check(first, second);
  } finally {
    running = false;
    form.querySelector("button").disabled = false;
  }
}

if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  const asked = new URLSearchParams(location.search);
  if (asked.has("first") && asked.has("second")) run();
}
