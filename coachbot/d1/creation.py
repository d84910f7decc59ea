"""Test databases on D1, and the guard that keeps tests away from a real one.

A peer backend's ``manage.py test`` ran against a user's production D1 and wiped it.
Here a test database is either a local D1 file, or a D1 reached on a loopback
address (Cloudflare's runtime started by the tests); anything else is refused.
"""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.creation import BaseDatabaseCreation

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK or host.startswith("127.")


class DatabaseCreation(BaseDatabaseCreation):
    def _remote(self) -> bool:
        return bool(self.connection.settings_dict["OPTIONS"].get("api_token"))

    def _get_test_db_name(self):
        if self._remote():
            return self.connection.settings_dict["NAME"]
        test_name = self.connection.settings_dict["TEST"].get("NAME")
        return test_name or f"{self.connection.settings_dict['NAME']}.test"

    def _create_test_db(self, verbosity, autoclobber, keepdb=False):
        name = self._get_test_db_name()
        if self._remote():
            url = self.connection.settings_dict["OPTIONS"].get("api_base_url", "")
            if not is_loopback(url):
                raise ImproperlyConfigured(
                    f"refusing to run tests against the D1 database at {url}: tests drop every "
                    "table. Point CLOUDFLARE_API_BASE_URL at a loopback runtime, or unset "
                    "CLOUDFLARE_API_TOKEN to test on the local D1."
                )
            if not keepdb:
                self._drop_all_tables()
            return name
        if not keepdb:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(name + suffix):
                    os.remove(name + suffix)
        return name

    def _drop_all_tables(self) -> None:
        with self.connection.cursor() as cursor:
            tables = self.connection.introspection.table_names(cursor)
        if tables:
            statements = ["PRAGMA defer_foreign_keys = ON"] + [
                f"DROP TABLE {self.connection.ops.quote_name(t)}" for t in tables
            ]
            self.connection.connection.send([(sql, []) for sql in statements])

    def _destroy_test_db(self, test_database_name, verbosity):
        if self._remote():
            return
        self.connection.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(test_database_name + suffix):
                os.remove(test_database_name + suffix)

    def test_db_signature(self):
        settings = self.connection.settings_dict
        return (settings["OPTIONS"].get("api_base_url"), self._get_test_db_name())
