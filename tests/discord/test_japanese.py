"""Members whose Discord speaks Japanese read Japanese: replies, buttons, the report form."""

import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

from discord_app import messages
from sessions_app.models import Session

from .conftest import APP_ID, load

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
CATALOGUE = Path(__file__).parents[2] / "discord_app/locale/ja/LC_MESSAGES/django.po"


def japanese(name: str) -> dict:
    payload = load(name)
    payload["locale"] = "ja"
    return payload


def po_entries(text: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file, continuation lines joined."""
    entries = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        joined = re.sub(r'"\n"', "", "\n".join(lines))
        match = re.search(r'^msgid "(.*)"\nmsgstr "(.*)"$', joined, flags=re.M | re.S)
        if match:
            entries[match[1]] = match[2]
    return entries


def test_every_text_of_the_catalogue_is_translated_and_compiled():
    entries = po_entries(CATALOGUE.read_text(encoding="utf-8"))
    entries.pop("")  # the header
    assert len(entries) > 50
    assert [msgid for msgid, msgstr in entries.items() if not msgstr] == []
    with CATALOGUE.with_suffix(".mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    assert {m.replace('\\"', '"') for m in entries} <= set(catalogue._catalog)  # .mo up to date


def test_the_compiled_catalogue_is_used():
    with translation.override("ja"):
        assert messages.default_question("ja").startswith("調子はどう")


def test_the_report_form_is_japanese(post, checkin):
    modal = post(japanese("component_report")).json()
    assert modal["data"]["title"] == "進捗報告"
    assert modal["data"]["components"][1]["label"] == "次にやること"


def test_the_checkin_buttons_are_japanese():
    row = messages.buttons("01JF0000000000000000000001", "ja")[0]["components"]
    assert [b["label"] for b in row] == ["報告する", "順調", "1時間後に", "今日はおしまい"]


def test_status_is_japanese(post, aki):
    text = post(japanese("command_status_dm")).json()["data"]["content"]
    assert "**次のチェックイン：**" in text
    assert "月, 火, 水, 木, 金" in text


def test_coach_start_welcomes_in_japanese_and_remembers_the_locale(post, discord):
    payload = japanese("command_coach_start_guild")
    post(payload)
    (edit,) = discord.calls("PATCH", f"/webhooks/{APP_ID}/{payload['token']}/messages/@original")
    assert edit.json["content"].startswith("登録しました")
    assert Session.objects.get().locale == "ja"


def test_closed_dms_are_explained_in_japanese(post, discord):
    discord.unreachable_users.add("400000000000000001")
    payload = japanese("command_coach_start_guild")
    post(payload)
    (edit,) = discord.calls("PATCH", f"/webhooks/{APP_ID}/{payload['token']}/messages/@original")
    assert "プライバシー設定" in edit.json["content"]


def test_refusals_are_japanese(post, aki):
    payload = japanese("command_settings_guild")
    payload["data"]["options"][0]["value"] = "Mars/Olympus"
    text = post(payload).json()["data"]["content"]
    assert "タイムゾーンが見つかりません" in text


def test_the_snooze_note_is_japanese(post, checkin):
    answer = post(japanese("component_snooze")).json()
    assert "まで延期しました" in answer["data"]["content"]
    labels = [b["label"] for b in answer["data"]["components"][0]["components"]]
    assert labels[0] == "報告する"
