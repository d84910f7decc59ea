"""Configuration problems reported through Django's system check framework.

Stable ids (coachbot.E001...) so a deployment can silence or grep them; each comes
with a hint that says which variable to set.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from coachbot.kv import checks as kv_checks  # noqa: F401  (registers coachbot.E030/W031)

_REMOTE_NEEDS = ("CLOUDFLARE_ACCOUNT_ID", "D1_DATABASE_ID")


@register()
def check_cloudflare(app_configs, **kwargs):
    errors = []
    token = settings.CLOUDFLARE_API_TOKEN
    if token:
        for name in _REMOTE_NEEDS:
            if not getattr(settings, name):
                errors.append(
                    Error(
                        f"CLOUDFLARE_API_TOKEN is set but {name} is empty.",
                        hint=f"Set {name}, or unset CLOUDFLARE_API_TOKEN to use the embedded local D1.",
                        id="coachbot.E001",
                    )
                )
    else:
        for name in (*_REMOTE_NEEDS, "KV_NAMESPACE_ID"):
            if getattr(settings, name):
                errors.append(
                    Warning(
                        f"{name} is set but CLOUDFLARE_API_TOKEN is empty: the local D1/KV are used.",
                        hint="Set CLOUDFLARE_API_TOKEN to reach Cloudflare.",
                        id="coachbot.W002",
                    )
                )
    url = urlsplit(settings.CLOUDFLARE_API_BASE_URL)
    if url.scheme not in ("http", "https") or not url.hostname:
        errors.append(
            Error(
                f"CLOUDFLARE_API_BASE_URL is not an http(s) URL: {settings.CLOUDFLARE_API_BASE_URL!r}.",
                hint="Use https://api.cloudflare.com/client/v4 or a loopback URL of a local runtime.",
                id="coachbot.E003",
            )
        )
    elif url.scheme == "http" and url.hostname not in ("localhost", "127.0.0.1", "::1"):
        errors.append(
            Error(
                "CLOUDFLARE_API_BASE_URL uses plain http to a non-loopback host: the token would travel unencrypted.",
                hint="Use https.",
                id="coachbot.E004",
            )
        )
    if settings.CLOUDFLARE_BUDGET_REQUESTS > 1200 or settings.CLOUDFLARE_BUDGET_REQUESTS < 1:
        errors.append(
            Error(
                f"CLOUDFLARE_BUDGET_REQUESTS={settings.CLOUDFLARE_BUDGET_REQUESTS} is outside 1..1200.",
                hint="Cloudflare refuses every call for 5 minutes past 1,200 requests per 5 minutes; keep a margin (default 1100).",
                id="coachbot.E005",
            )
        )
    return errors


def _plain_http_to_remote(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in ("localhost", "127.0.0.1", "::1")


@register()
def check_discord(app_configs, **kwargs):
    errors = []
    key = settings.DISCORD_PUBLIC_KEY
    if key:
        try:
            valid = len(bytes.fromhex(key)) == 32
        except ValueError:
            valid = False
        if not valid:
            errors.append(Error(
                "DISCORD_PUBLIC_KEY is not a 64-character hex Ed25519 key: no interaction can be verified.",
                hint="Copy the Public Key from the Discord Developer Portal (General Information).",
                id="coachbot.E010",
            ))
    if settings.DISCORD_BOT_TOKEN and not settings.DISCORD_APPLICATION_ID:
        errors.append(Warning(
            "DISCORD_BOT_TOKEN is set but DISCORD_APPLICATION_ID is empty: commands cannot be registered "
            "and deferred replies cannot be delivered.",
            hint="Set DISCORD_APPLICATION_ID (the Application ID in the Developer Portal).",
            id="coachbot.W011",
        ))
    if _plain_http_to_remote(settings.DISCORD_API_BASE_URL):
        errors.append(Error(
            "DISCORD_API_BASE_URL uses plain http to a non-loopback host: the bot token would travel unencrypted.",
            hint="Use https://discord.com/api/v10.",
            id="coachbot.E012",
        ))
    return errors


@register()
def check_coach(app_configs, **kwargs):
    if settings.COACH_LLM_URL and settings.COACH_LLM_API_KEY and _plain_http_to_remote(settings.COACH_LLM_URL):
        return [Error(
            "COACH_LLM_URL uses plain http to a non-loopback host while COACH_LLM_API_KEY is set.",
            hint="Use https, or a loopback URL for a local model server.",
            id="coachbot.E020",
        )]
    if settings.COACH_LLM_URL and not settings.COACH_LLM_MODEL:
        return [Error(
            "COACH_LLM_URL is set but COACH_LLM_MODEL is empty.",
            hint="Name the model, e.g. COACH_LLM_MODEL=gpt-4o-mini or llama3.1.",
            id="coachbot.E021",
        )]
    return []
