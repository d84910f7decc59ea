"""The Japanese catalogue, the compiled .mo and the coach's code never drift apart."""

import ast
import re
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

COACH_CODE = Path(settings.BASE_DIR, "sessions_app", "coach")
PO_FILE = Path(settings.BASE_DIR, "locale", "ja", "LC_MESSAGES", "django.po")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def coach_msgids() -> set[str]:
    """Every literal passed to gettext (imported as _) in the coach's modules."""
    msgids = set()
    for path in COACH_CODE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "gettext"):
                msgids.add(node.args[0].value)
    return msgids


def po_entries() -> list[tuple[str, str, str]]:
    """(reference, msgid, msgstr) for each entry of the .po file; enough of the format for ours."""
    entries, reference, current, parts = [], "", None, {}
    for line in [*PO_FILE.read_text().splitlines(), ""]:
        if line.startswith("#:"):
            reference = line[2:].strip()
        elif line.startswith(("msgid ", "msgstr ")):
            current, _, literal = line.partition(" ")
            parts[current] = ast.literal_eval(literal)
        elif line.startswith('"') and current:
            parts[current] += ast.literal_eval(line)
        elif not line.strip() and parts:
            if parts.get("msgid"):
                entries.append((reference, parts["msgid"], parts.get("msgstr", "")))
            reference, current, parts = "", None, {}
    return entries


def test_the_coach_uses_gettext_for_its_words():
    assert len(coach_msgids()) >= 20


def test_every_coach_string_has_a_japanese_translation():
    translated = {msgid for _ref, msgid, msgstr in po_entries() if msgstr}

    assert coach_msgids() - translated == set()


def test_the_po_file_has_no_coach_strings_the_code_no_longer_uses():
    in_po = {msgid for ref, msgid, _msgstr in po_entries() if ref.startswith("sessions_app/coach")}

    assert in_po - coach_msgids() == set()


def test_the_po_file_has_each_string_once():
    msgids = [msgid for _ref, msgid, _msgstr in po_entries()]

    assert len(msgids) == len(set(msgids))


def test_translations_keep_every_placeholder():
    for _ref, msgid, msgstr in po_entries():
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid


def test_the_compiled_mo_file_matches_the_po_file():
    with translation.override("ja"):
        stale = [msgid for _ref, msgid, msgstr in po_entries() if gettext(msgid) != msgstr]

    assert stale == [], "run: msgfmt --check -o django.mo django.po in locale/ja/LC_MESSAGES"
