// What the reader is told: every sentence the verifier shows, in the page's language, and the
// failure that carries one. t() and tn() read a gettext catalog turned into JSON (the _js domain
// of ledger/api/i18n.py); Babel extracts their msgids from every module here (keywords t and
// tn:1,2), so a msgid is always one literal string. VerifyError is the JavaScript twin of
// ledger.errors' verification errors: its `step` numbers the check that failed, as the Python
// side numbers it (0: the input is malformed).

let messages = {};

/** Use `catalog` ({msgid: translation | [plural forms]}) from now on; {} means English. */
export function setMessages(catalog) {
  messages = catalog && typeof catalog === "object" ? catalog : {};
}

/** `msgid` in the page's language, with its %(name)s placeholders filled from `params`. */
export function t(msgid, params = {}) {
  const forms = translationOf(msgid);
  return fill(forms ? forms[0] : msgid, params);
}

/** The singular or plural sentence for `n` (also available to it as %(n)s). */
export function tn(singular, plural, n, params = {}) {
  const values = { ...params, n };
  const forms = translationOf(singular);
  if (!forms) {
    // Untranslated text is English, so English rules pick its form whatever the page's language.
    return fill(new Intl.PluralRules("en").select(n) === "one" ? singular : plural, values);
  }
  return fill(forms[pluralIndex(forms.length, n)], values);
}

function translationOf(msgid) {
  if (!Object.hasOwn(messages, msgid)) return null;
  const found = messages[msgid];
  const forms = typeof found === "string" ? [found] : found;
  if (!Array.isArray(forms) || !forms.length) return null;
  return forms.every((form) => typeof form === "string" && form) ? forms : null;
}

function pluralRules() {
  const lang = (typeof document !== "undefined" && document.documentElement.lang) || "en";
  try {
    return new Intl.PluralRules(lang);
  } catch {
    return new Intl.PluralRules("en"); // a malformed lang attribute must not stop verification
  }
}

function pluralIndex(count, n) {
  if (count === 1) return 0;
  const rules = pluralRules();
  const category = rules.select(n);
  if (count === 2) return category === "one" ? 0 : 1;
  // More forms: one per category the language has, in CLDR order (zero, one, two, few, many,
  // other), which is how gettext catalogs of those languages order them.
  const order = ["zero", "one", "two", "few", "many", "other"];
  const mine = order.filter((c) => rules.resolvedOptions().pluralCategories.includes(c));
  return Math.min(Math.max(mine.indexOf(category), 0), count - 1);
}

function fill(text, params) {
  return text.replace(/%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g, (whole, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

// --- errors --------------------------------------------------------------------------------------

/** A verification failure: `message` is already translated; `step` numbers the failed check. */
export class VerifyError extends Error {
  constructor(message, step = 0) {
    super(message);
    this.name = "VerifyError";
    this.step = step;
  }
}

/** Run `check`, numbering as `step` the failures it throws without a step of their own. */
export async function atStep(step, check) {
  try {
    return await check();
  } catch (err) {
    if (err instanceof VerifyError && err.step === 0) err.step = step;
    throw err;
  }
}

/** Run `check`, replacing any VerifyError it throws by `error` (for a message in context). */
export async function instead(error, check) {
  try {
    return await check();
  } catch (err) {
    if (err instanceof VerifyError) throw error;
    throw err;
  }
}
