"""``manage.py dbshell``: the sqlite3 shell on the local D1 file (none for a remote D1)."""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.client import BaseDatabaseClient


class DatabaseClient(BaseDatabaseClient):
    executable_name = "sqlite3"

    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict, parameters):
        if settings_dict["OPTIONS"].get("api_token"):
            raise ImproperlyConfigured(
                "dbshell works on the local D1 only; for Cloudflare use `wrangler d1 execute`."
            )
        return [cls.executable_name, settings_dict["NAME"], *parameters], None
