"""Every message a page, a page script or a public problem uses has its Chinese translation:
a catalog that lacks one fails here, so no page shows English in the middle of Chinese."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger.api.i18n import browser_messages, locale_of_tag, translations
from ledger.api.pages.catalogs import Domain, domains, installed_sites
from tests.support.sample_app import SAMPLE_APP

# The installed apps' sites, and the worked example of docs/apps.md.
DOMAINS = domains([*installed_sites(), SAMPLE_APP.site])


def test_the_ledger_and_every_app_with_a_site_have_catalogs() -> None:
    names = {d.name for d in DOMAINS}
    assert {"ledger", "ledger_js", "beef", "beef_js"} <= names


@pytest.mark.parametrize("domain", DOMAINS, ids=[d.name for d in DOMAINS])
def test_every_message_in_use_has_a_chinese_translation(domain: Domain) -> None:
    assert domain.messages(), f"no messages found for {domain.name}: is extraction broken?"
    assert domain.missing("zh_CN") == []


def _copy(domain: Domain, tmp_path: Path) -> Domain:
    """The domain with its catalogs copied to `tmp_path`, to change without harm."""
    shutil.copytree(domain.locale_dir, tmp_path / "locale")
    return Domain(
        domain.name, tmp_path / "locale", domain.package, domain.templates, domain.scripts
    )


def test_a_catalog_that_lacks_a_message_fails(tmp_path: Path) -> None:
    beef = _copy(next(d for d in DOMAINS if d.name == "beef_js"), tmp_path)
    po = beef.po_path("zh_CN")
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "冷链"' in text
    po.write_text(text.replace('msgstr "冷链"', 'msgstr ""'), encoding="utf-8")
    assert beef.missing("zh_CN") == ["Cold chain"]


def test_a_new_message_in_a_template_fails_until_translated(tmp_path: Path) -> None:
    original = next(d for d in DOMAINS if d.name == "beef")
    assert original.templates is not None
    shutil.copytree(original.templates, tmp_path / "templates")
    (tmp_path / "templates" / "new.html").write_text("{{ _('A sentence nobody translated') }}")
    copied = Domain("beef", original.locale_dir, original.package, tmp_path / "templates", None)
    assert copied.missing("zh_CN") == ["A sentence nobody translated"]


def test_browser_catalog_carries_plural_forms_for_the_page_script() -> None:
    beef = next(d for d in DOMAINS if d.name == "beef")
    messages = browser_messages("zh_CN", ((beef.locale_dir, "beef"),))
    assert messages["Cold chain"] == "冷链"
    assert messages["%(n)s NLIS-tagged animal"] == ["%(n)s 头佩戴 NLIS 耳标的牛"]


def test_chinese_plurals_use_the_one_form_chinese_has() -> None:
    beef = next(d for d in DOMAINS if d.name == "beef")
    found = translations("zh_CN", ((beef.locale_dir, "beef"),))
    singular = "This code has been scanned from %(num)s network since %(since)s."
    plural = "This code has been scanned from %(num)s different networks since %(since)s."
    assert found.ngettext(singular, plural, 1) == found.ngettext(singular, plural, 7)
    assert "网络" in found.ngettext(singular, plural, 7)


@pytest.mark.parametrize(
    ("tag", "locale"),
    [("zh-CN", "zh_CN"), ("zh", "zh_CN"), ("zh-Hant-TW", "zh_CN"), ("en-GB", "en"), ("fr", None)],
)
def test_language_tags_map_to_the_catalogs_we_have(tag: str, locale: str | None) -> None:
    assert locale_of_tag(tag) == locale


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh;q=0.5, en;q=0.4", "zh_CN"),
        ("en;q=0.2, zh-TW;q=0.9", "zh_CN"),
        ("zh;q=0, en;q=0.1", "en"),
        ("fr, de", None),
        ("zh;q=garbage, en", "en"),
        ("", None),
    ],
)
def test_accept_language_picks_the_best_language_we_have(header: str, locale: str | None) -> None:
    from ledger.api.i18n import _accept_language

    assert _accept_language(header) == locale
