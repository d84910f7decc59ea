"""The one polite notice sent when check-ins pause for silence."""

from sessions_app.dispatch import pause_notice


def test_the_pause_notice_is_quiet_offers_only_report_and_speaks_japanese():
    english = pause_notice("01JCHECKIN0000000000000000", "en-US")
    japanese = pause_notice("01JCHECKIN0000000000000000", "ja")
    assert english["flags"] & 4096
    assert [b["custom_id"].split(":")[1] for b in english["components"][0]["components"]] == ["report"]
    assert "stop checking in" in english["content"]
    assert "お休み" in japanese["content"]
