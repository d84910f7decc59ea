"""The Django database backend for Cloudflare D1 (``ENGINE = "coachbot.d1"``).

D1 is SQLite behind an HTTP API, so this is Django's sqlite3 backend with the
connection replaced: SQL generation, schema editing and introspection are SQLite's
(minus what D1 forbids), and a DB-API driver (dbapi.py) speaks D1's REST shapes to
Cloudflare or to the embedded local D1 (local.py).

OPTIONS:
  api_token, account_id, api_base_url -- with a token: Cloudflare's REST API, and
      NAME is the database id. Without: the local D1 file at NAME.
  budget_requests, budget_window, budget_reserve, budget_store -- pacing (budget.py).
  strict_atomic -- raise instead of flushing a transaction early (dbapi.py).
"""

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

from . import dbapi
from .budget import make_budget
from .client import DatabaseClient
from .cloudflare import api_for
from .creation import DatabaseCreation
from .features import DatabaseFeatures
from .introspection import DatabaseIntrospection
from .local import LocalD1
from .operations import DatabaseOperations
from .schema import DatabaseSchemaEditor
from .transport import RemoteD1


class DatabaseWrapper(SQLiteDatabaseWrapper):
    # "sqlite" keeps Django's as_sqlite() SQL variants, which is the dialect D1 speaks.
    vendor = "sqlite"
    display_name = "Cloudflare D1"
    Database = dbapi
    SchemaEditorClass = DatabaseSchemaEditor
    client_class = DatabaseClient
    creation_class = DatabaseCreation
    features_class = DatabaseFeatures
    introspection_class = DatabaseIntrospection
    ops_class = DatabaseOperations
    # No REGEXP on D1: regex lookups go to ops.regex_lookup(), which says so.
    operators = {
        k: v for k, v in SQLiteDatabaseWrapper.operators.items() if k not in ("regex", "iregex")
    }

    def get_connection_params(self):
        options = self.settings_dict["OPTIONS"]
        if options.get("api_token"):
            target = RemoteD1(api_for(options), options.get("account_id", ""), self.settings_dict["NAME"])
        else:
            target = LocalD1(self.settings_dict["NAME"], budget=make_budget(options))
        return {"target": target, "strict": bool(options.get("strict_atomic"))}

    def get_new_connection(self, conn_params):
        return dbapi.connect(conn_params["target"], strict=conn_params["strict"])

    def get_database_version(self):
        return dbapi.sqlite_version_info

    def prepare_database(self):
        # Django's migration recorder creates django_migrations lazily and then checks
        # for it again *inside* the first migration, a read that would split that
        # migration's batch in two. Creating it before migrating keeps every migration
        # one atomic request.
        from django.db.migrations.recorder import MigrationRecorder

        MigrationRecorder(self).ensure_schema()

    def init_connection_state(self):
        pass  # nothing to set: foreign keys are always on in D1, and no PRAGMA is needed

    def create_cursor(self, name=None):
        return self.connection.cursor()

    def close(self):
        BaseDatabaseWrapper.close(self)

    def is_usable(self):
        return True

    def is_in_memory_db(self):
        return False

    # -- transactions are queues (see dbapi.py) ----------------------------------------
    def _set_autocommit(self, autocommit):
        pass  # D1 commits every request; atomic() starts a queue instead

    def _start_transaction_under_autocommit(self):
        self.connection.begin()

    def _savepoint(self, sid):
        self.connection.savepoint(sid)

    def _savepoint_rollback(self, sid):
        self.connection.rollback_to(sid)

    def _savepoint_commit(self, sid):
        self.connection.release(sid)

    def disable_constraint_checking(self):
        return False  # D1 ignores PRAGMA foreign_keys = OFF

    def enable_constraint_checking(self):
        pass

    # -- what this connection has spent ------------------------------------------------
    @property
    def target(self):
        self.ensure_connection()
        return self.connection.target

    def set_priority(self, priority: int) -> None:
        """0 for background work that must leave budget for members' interactions."""
        self.ensure_connection()
        self.connection.priority = priority
