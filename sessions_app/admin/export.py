"""The members' conversations as CSV, streamed: one D1 request per 100 members."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from .pages import fetch_export_chunk

CHUNK = 100
HEADER = ["member", "discord_user_id", "member_id", "time", "kind", "role", "author_user_id", "content"]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet will not run as a formula (members write these words)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(ids: list[str]) -> Iterator[list]:
    yield HEADER
    for start in range(0, len(ids), CHUNK):
        sessions, conversations = fetch_export_chunk(ids[start:start + CHUNK])
        for session in sessions:
            for m in conversations.get(session.pk, []):
                yield [_cell(session.display_name), session.user_id, session.pk, m.created_at.isoformat(),
                       m.kind, m.role, m.author_user_id or "", _cell(m.content)]


def export_response(ids: list[str]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in export_rows(ids)),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="coachbot-conversations-{stamp}.csv"'
    return response
