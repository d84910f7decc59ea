"""The check-in dispatcher at scale: D1 requests per tick and time to send, against Discord's floor.

Run: .venv/bin/python bench/dispatch.py [--quick] [--sizes 100,1000,5000]

N due members (DM channels already cached, as after their first check-in: one
Discord request each) on a throwaway local D1, a local HTTP server playing Discord that enforces
50 requests/second and returns rate-limit headers (tests/support/fake_discord.py), and the
real Discord client, which paces itself under DISCORD_MAX_RPS (45 by default). One tick
each, no spread. Floors: Discord's requests/50 s, and the client's own requests/max_rps s. ``--quick``
skips N = 5,000 (about two minutes). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["COACHBOT_DATA_DIR"] = tempfile.mkdtemp(prefix="coachbot-bench-dispatch-")
os.environ["CLOUDFLARE_API_TOKEN"] = ""
os.environ["KV_NAMESPACE_ID"] = ""
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coachbot.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from coachbot.d1 import RequestCounter  # noqa: E402
from discord_app.rest import DiscordClient  # noqa: E402
from sessions_app import dispatch  # noqa: E402
from sessions_app.models import Session  # noqa: E402
from tests.support.fake_discord import FakeDiscord  # noqa: E402

TOKEN = "bench-bot-token"
DISCORD_RPS = 50
NOW = datetime.datetime(2026, 3, 9, 15, 0, tzinfo=datetime.UTC)  # a Monday, 15:00 UTC


def one_tick(n: int, max_rps: int) -> dict:
    dispatch._send_batch([("DELETE FROM checkins", {}), ("DELETE FROM sessions", {})])
    fake = FakeDiscord(TOKEN, global_limit=DISCORD_RPS).start()
    members = []
    for i in range(n):  # steady state: each member's DM channel is open and cached
        user_id = str(300_000_000_000_000_000 + i)
        members.append(Session(user_id=user_id, display_name=f"member {i}",
                               channel_id=fake.dm_channel_for(user_id)))
    Session.objects.bulk_create(members, batch_size=1000)
    client = DiscordClient(TOKEN, base_url=fake.base_url, max_rps=max_rps)
    try:
        started = time.monotonic()
        with RequestCounter() as counter:
            tick = dispatch.run_tick(NOW, client=client, spread=0)
        elapsed = time.monotonic() - started
    finally:
        client.close()
        fake.stop()
    rate_limited = sum(1 for r in fake.requests if r.status == 429)
    calls = len(fake.requests)
    return {
        "n": n,
        "sent": tick.count("sent"),
        "discord_requests": calls,
        "discord_429s": rate_limited,
        "requests_per_tick": counter.requests,
        "requests_allowed": 3 + n / 100,
        "seconds": round(elapsed, 2),
        "discord_floor_s": round(calls / DISCORD_RPS, 2),
        "client_floor_s": round(calls / max_rps, 2),
        "over_discord_floor": round(elapsed / (calls / DISCORD_RPS), 3),
        "over_client_floor": round(elapsed / (calls / max_rps), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip N = 5,000")
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [n for n in sizes if n < 5000]
    call_command("migrate", database="d1", verbosity=0)
    max_rps = int(getattr(settings, "DISCORD_MAX_RPS", 45))
    rows = []
    print(f"{'N':>6} {'D1/KV req':>9} {'allowed':>8} {'sent':>6} {'429s':>5} {'seconds':>8} "
          f"{'floor s':>7} {'x floor':>8} {'@client':>7} {'x client':>8}")
    for n in sizes:
        row = one_tick(n, max_rps)
        rows.append(row)
        print(f"{n:>6} {row['requests_per_tick']:>9} {row['requests_allowed']:>8.0f} {row['sent']:>6} "
              f"{row['discord_429s']:>5} {row['seconds']:>8.2f} {row['discord_floor_s']:>7.2f} "
              f"{row['over_discord_floor']:>8.3f} {row['client_floor_s']:>7.2f} {row['over_client_floor']:>8.3f}",
              flush=True)
    print(json.dumps({"benchmark": "dispatch", "discord_rps": DISCORD_RPS, "client_max_rps": max_rps,
                      "results": rows}))


if __name__ == "__main__":
    main()
