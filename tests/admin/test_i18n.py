"""The admin and the coaching models read in Japanese; the catalogue and its .mo agree."""

import ast
from gettext import GNUTranslations
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import translation

from tests.admin.conftest import D1_DATABASES, make_members, members_url

PO_FILE = Path(settings.BASE_DIR, "sessions_app", "locale", "ja", "LC_MESSAGES", "django.po")


def po_entries() -> list[tuple[str | None, str, str | None, str]]:
    """(msgctxt, msgid, msgid_plural, msgstr) of each entry; enough of the format for ours."""
    entries, current, parts = [], None, {}
    for line in [*PO_FILE.read_text().splitlines(), ""]:
        if line.startswith(("msgctxt", "msgid", "msgstr")):
            current, _, literal = line.partition(" ")
            parts[current] = ast.literal_eval(literal)
        elif line.startswith('"') and current:
            parts[current] += ast.literal_eval(line)
        elif not line.strip() and parts:
            if parts.get("msgid"):
                entries.append((parts.get("msgctxt"), parts["msgid"], parts.get("msgid_plural"),
                                parts.get("msgstr", parts.get("msgstr[0]", ""))))
            current, parts = None, {}
    return entries


def model_texts() -> list:
    """The lazy help_texts and choice labels of the coaching models."""
    texts = []
    for model in apps.get_app_config("sessions_app").get_models():
        for field in model._meta.get_fields():
            texts += [field.help_text] if getattr(field, "help_text", "") else []
            texts += [label for _value, label in getattr(field, "choices", None) or []]
    return texts


def test_every_help_text_and_choice_of_the_coaching_models_is_translated():
    texts = model_texts()
    with translation.override("en"):
        english = [str(t) for t in texts]
    with translation.override("ja"):
        japanese = [str(t) for t in texts]

    assert len(texts) > 60
    assert [en for en, ja in zip(english, japanese, strict=True) if en == ja] == []


def test_the_compiled_mo_file_matches_the_po_file():
    with PO_FILE.with_suffix(".mo").open("rb") as f:
        mo = GNUTranslations(f)
    stale = [msgid for ctx, msgid, plural, msgstr in po_entries()
             if (mo.npgettext(ctx, msgid, plural, 1) if ctx and plural else mo.pgettext(ctx, msgid) if ctx
                 else mo.ngettext(msgid, plural, 1) if plural else mo.gettext(msgid)) != msgstr]

    assert stale == [], "run: msgfmt --check -o django.mo django.po in sessions_app/locale/ja/LC_MESSAGES"


def test_every_entry_has_a_translation():
    entries = po_entries()

    assert len(entries) > 150
    assert [msgid for _ctx, msgid, _plural, msgstr in entries if not msgstr] == []


@pytest.mark.django_db(databases=D1_DATABASES)
def test_the_members_list_speaks_japanese(as_user, ana):
    make_members(ana, 3)

    response = as_user(ana).get(members_url(), headers={"Accept-Language": "ja"})

    text = response.content.decode()
    assert "メンバー" in text and "最終報告" in text and "次のチェックイン" in text and "稼働中" in text


@pytest.mark.django_db(databases=D1_DATABASES)
def test_the_member_page_speaks_japanese(as_user, ana):
    member = make_members(ana, 1)[0]
    from tests.admin.conftest import member_url

    response = as_user(ana).get(member_url(member), headers={"Accept-Language": "ja"})

    text = response.content.decode()
    assert "会話" in text and "コーチの返答をプレビュー" in text and "メンバーの IANA タイムゾーン。" in text
