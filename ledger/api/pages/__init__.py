"""The shared page layer: every app's public pages are rendered, served and verified through it.

- `headers`: the Content-Security-Policy and other headers every page and static file carries;
- `embed`: data handed to page scripts as JSON inside the page, and download names;
- `i18n`: Chinese and English, chosen per request, with gettext catalogs;
- `site`: an app's templates, static files and catalogs, rendered in the shared layout;
- `static/verify.js`: the one in-browser verifier (signatures, proofs, checkpoint, quorum,
  governance), and `static/page.js`, the page helpers built on it;
- `explorer`: the ledger's own public page, /explorer (docs/api.md), whose script
  (`static/explorer.js`) checks consistency between two checkpoints in the browser.

A page that says "verified" shows only what its script derived from the signed entries it
verified (docs/apps.md); whatever else the server says stands apart, labelled as the server's.
"""
