"""System checks for KV caches (coachbot.E030, coachbot.W031).

Registered when ``coachbot.kv.checks`` is imported; ``coachbot/checks.py`` imports it.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .cache import config_problems

BACKEND = "coachbot.kv.KVCache"


@register(Tags.caches)
def check_kv_caches(app_configs, **kwargs):
    messages = []
    for alias, config in settings.CACHES.items():
        if config.get("BACKEND") != BACKEND:
            continue
        options = config.get("OPTIONS") or {}
        for problem in config_problems(config.get("LOCATION", ""), options):
            messages.append(
                Error(
                    f"CACHES[{alias!r}]: {problem}.",
                    hint="With CLOUDFLARE_API_TOKEN set, LOCATION is KV_NAMESPACE_ID and OPTIONS needs "
                    "account_id; without it, LOCATION is the local KV file (see coachbot/kv/cache.py).",
                    id="coachbot.E030",
                )
            )
        simulated = [n for n in ("simulate_propagation", "simulate_write_limit") if options.get(n)]
        if options.get("api_token") and simulated:
            messages.append(
                Warning(
                    f"CACHES[{alias!r}]: {', '.join(simulated)} only applies to the local KV and is ignored on Cloudflare.",
                    hint="Remove the simulate_* options, or unset CLOUDFLARE_API_TOKEN.",
                    id="coachbot.W031",
                )
            )
    return messages
