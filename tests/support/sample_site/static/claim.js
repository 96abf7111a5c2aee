// The sample app's page (docs/apps.md): the claim is taken from the signed entry the shared
// verifier has just checked, and bound to the item the page is about.
import { el, showVerified, t } from "/static/ledger/page.js";
import { VerifyError } from "/static/ledger/verify.js";

showVerified((verified, subject) => {
  const claims = verified.entries.filter((e) => !e.type.startsWith("ledger."));
  if (claims.length !== 1 || claims[0].type !== "sample.claim" || claims[0].body.item !== subject.item) {
    throw new VerifyError(t("The signed entry is not the claim of %(item)s.", { item: subject.item }));
  }
  const claim = claims[0];
  const claimant = verified.members.get(claim.org);
  const name = claimant ? claimant.name : claim.org;
  return {
    nodes: [el("section", { id: "claim" }, el("p", {}, t("%(item)s was claimed by %(name)s, in entry %(index)s.",
      { item: claim.body.item, name, index: claim.index })))],
    records: 1,
    banner: { status: "claimed", title: t("Claimed"), message: t("Claimed by %(name)s.", { name }) },
    facts: { item: claim.body.item, org: claim.org, index: claim.index },
  };
});
