"""coachbot settings: every value comes from the environment (see .env.example).

The defaults run the whole bot on this machine with no Cloudflare or Discord account:
the embedded local D1 and local KV live under COACHBOT_DATA_DIR.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
COACHBOT_DATA_DIR = Path(env.str("COACHBOT_DATA_DIR", default=str(BASE_DIR / "var")))
COACHBOT_DATA_DIR.mkdir(parents=True, exist_ok=True)

if not SECRET_KEY:
    # A fresh checkout still runs: a random key is kept in the data directory, never in git.
    _key_file = COACHBOT_DATA_DIR / "secret_key"
    if not _key_file.exists():
        from django.core.management.utils import get_random_secret_key

        _key_file.write_text(get_random_secret_key())
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "coachbot",
    "sessions_app",
    "discord_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "coachbot.urls"
WSGI_APPLICATION = "coachbot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases --------------------------------------------------------------------------
CLOUDFLARE_ACCOUNT_ID = env.str("CLOUDFLARE_ACCOUNT_ID", default="")
CLOUDFLARE_API_TOKEN = env.str("CLOUDFLARE_API_TOKEN", default="")
CLOUDFLARE_API_BASE_URL = env.str(
    "CLOUDFLARE_API_BASE_URL", default="https://api.cloudflare.com/client/v4"
)
D1_DATABASE_ID = env.str("D1_DATABASE_ID", default="")
KV_NAMESPACE_ID = env.str("KV_NAMESPACE_ID", default="")
# Requests per window the whole deployment may spend (Cloudflare allows 1,200 per 300 s).
CLOUDFLARE_BUDGET_REQUESTS = env.int("CLOUDFLARE_BUDGET_REQUESTS", default=1100)
CLOUDFLARE_BUDGET_WINDOW = env.float("CLOUDFLARE_BUDGET_WINDOW", default=300.0)
# Requests kept back for members' interactions: background work (the check-in
# dispatcher) waits when only this many are left in the window.
CLOUDFLARE_BUDGET_RESERVE = env.int("CLOUDFLARE_BUDGET_RESERVE", default=200)
D1_STRICT_ATOMIC = env.bool("D1_STRICT_ATOMIC", default=False)
REDIS_URL = env.str("REDIS_URL", default="")

# D1 and KV share one Cloudflare client, one token and one request budget.
CLOUDFLARE = {
    "account_id": CLOUDFLARE_ACCOUNT_ID,
    "api_token": CLOUDFLARE_API_TOKEN,
    "api_base_url": CLOUDFLARE_API_BASE_URL,
    "budget_requests": CLOUDFLARE_BUDGET_REQUESTS if CLOUDFLARE_API_TOKEN else 0,
    "budget_window": CLOUDFLARE_BUDGET_WINDOW,
    "budget_reserve": CLOUDFLARE_BUDGET_RESERVE,
    # One window for every process: a SQLite file on one machine, Redis across machines.
    "budget_store": REDIS_URL or str(COACHBOT_DATA_DIR / "cloudflare-budget.sqlite3"),
}

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{COACHBOT_DATA_DIR / 'coachbot.sqlite3'}"
    ),
    "d1": {
        "ENGINE": "coachbot.d1",
        # With an API token: D1 over its REST API. Without: the embedded local D1 file.
        "NAME": D1_DATABASE_ID or str(COACHBOT_DATA_DIR / "d1.sqlite3"),
        "OPTIONS": {**CLOUDFLARE, "strict_atomic": D1_STRICT_ATOMIC},
        "TEST": {"NAME": str(COACHBOT_DATA_DIR / "test_d1.sqlite3"), "DEPENDENCIES": []},
    },
}
DATABASE_ROUTERS = ["coachbot.routers.D1Router"]
D1_APPS = ["sessions_app"]  # the apps whose tables live in D1; everything else in default
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Workers KV (the embedded local KV file without a token) ----------------------
# "default" is per process (interaction de-duplication, small caches); "kv" is Workers KV,
# a cache of derived data (summaries, next prompts, last status) written through from D1.
KV_LOCAL_TTL = env.float("KV_LOCAL_TTL", default=5.0)
CACHES = {
    # Shared by every process (web workers and the task cluster): interaction
    # de-duplication and the report form's pre-fill must not depend on which process
    # Discord's request lands in. A table in the default database; Redis when REDIS_URL is set.
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "coachbot_cache"}
    ),
    "kv": {
        "BACKEND": "coachbot.kv.KVCache",
        "LOCATION": KV_NAMESPACE_ID or str(COACHBOT_DATA_DIR / "kv.sqlite3"),
        "TIMEOUT": 300,
        "KEY_PREFIX": "",
        "KEY_FUNCTION": "coachbot.kv.plain_key",
        "OPTIONS": {
            **CLOUDFLARE,
            "local_ttl": KV_LOCAL_TTL,
            "simulate_propagation": env.float("KV_SIMULATE_PROPAGATION", default=0.0),
            "simulate_write_limit": env.bool("KV_SIMULATE_WRITE_LIMIT", default=False),
        },
    },
}

# --- Task queue (django-q2): the ORM broker on default, Redis when REDIS_URL is set ------
Q_CLUSTER = {
    "name": "coachbot",
    "workers": env.int("Q_WORKERS", default=2),
    # A tick sends for at most CHECKIN_SPREAD_SECONDS plus N / 45 s (5,000 members: ~5 min):
    # it must finish well inside the 20-minute window before the task is given up.
    "timeout": 1080,
    "retry": 1200,
    "max_attempts": 1,
    "catch_up": False,
    "label": "Task queue",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
}

# --- Discord (HTTP interactions + REST) ------------------------------------------------
DISCORD_PUBLIC_KEY = env.str("DISCORD_PUBLIC_KEY", default="")
DISCORD_APPLICATION_ID = env.str("DISCORD_APPLICATION_ID", default="")
DISCORD_BOT_TOKEN = env.str("DISCORD_BOT_TOKEN", default="")
DISCORD_API_BASE_URL = env.str("DISCORD_API_BASE_URL", default="https://discord.com/api/v10")
DISCORD_MAX_RPS = env.int("DISCORD_MAX_RPS", default=45)
DISCORD_MAX_INVALID_REQUESTS = env.int("DISCORD_MAX_INVALID_REQUESTS", default=5000)

# --- The coach: rules by default, any OpenAI-compatible endpoint when configured --------
COACH_LLM_URL = env.str("COACH_LLM_URL", default="")
COACH_LLM_MODEL = env.str("COACH_LLM_MODEL", default="")
COACH_LLM_API_KEY = env.str("COACH_LLM_API_KEY", default="")
COACH_LLM_TIMEOUT = env.float("COACH_LLM_TIMEOUT", default=20.0)

# --- The check-in schedule (sessions_app/schedule.py, sessions_app/dispatch.py) ----------
CHECKIN_CRON = env.str("CHECKIN_CRON", default="*/20 * * * *")  # when the dispatcher ticks
CHECKIN_SPREAD_SECONDS = env.int("CHECKIN_SPREAD_SECONDS", default=180)  # sends spread over this, with jitter
CHECKIN_MAX_UNANSWERED = env.int("CHECKIN_MAX_UNANSWERED", default=6)  # misses before a polite pause
CHECKIN_BACKOFF_CAP_MINUTES = env.int("CHECKIN_BACKOFF_CAP_MINUTES", default=240)  # longest back-off
CHECKIN_OUTBOX_GRACE_SECONDS = env.int("CHECKIN_OUTBOX_GRACE_SECONDS", default=600)  # unsent claim taken back
CHECKIN_OUTBOX_MAX_AGE_MINUTES = env.int("CHECKIN_OUTBOX_MAX_AGE_MINUTES", default=60)  # too late: expire
CHECKIN_MAX_ATTEMPTS = env.int("CHECKIN_MAX_ATTEMPTS", default=3)  # retryable send attempts
CHECKIN_RESULTS_BATCH = env.int("CHECKIN_RESULTS_BATCH", default=100)  # send results per D1 request
CHECKIN_RECORD_EVERY_SECONDS = env.int("CHECKIN_RECORD_EVERY_SECONDS", default=60)  # save results this often
CHECKIN_SEND_WORKERS = env.int("CHECKIN_SEND_WORKERS", default=8)  # DMs in flight at once
KV_TTL = env.int("KV_TTL", default=300)  # seconds KV keeps a published copy (the seed's 60-600 s)

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = COACHBOT_DATA_DIR / "static"

# --- Logging: secrets never appear, see coachbot.logging -------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
