"""What D1 can and cannot do, as Django's feature flags (each set deliberately)."""

from django.db.backends.sqlite3.features import DatabaseFeatures as SQLiteFeatures


class DatabaseFeatures(SQLiteFeatures):
    # D1 is SQLite 3.47 inside Cloudflare's runtime.
    minimum_database_version = (3, 40)
    max_query_params = 100
    # A transaction is a queue of writes sent as one batch at commit; a statement that
    # needs its result mid-transaction commits the queue early. Rollback is therefore
    # not guaranteed, and tests must not rely on it: TestCase flushes instead.
    supports_transactions = False
    uses_savepoints = True
    can_release_savepoints = True
    # Each migration is one atomic batch, DDL included.
    can_rollback_ddl = True
    has_select_for_update = False
    has_select_for_update_nowait = False
    has_select_for_update_skip_locked = False
    # One database behind an HTTP API: no second connection to clone or share.
    test_db_allows_multiple_connections = False
    can_clone_databases = False
    supports_json_field = True
    can_return_columns_from_insert = True
    # bulk_create() without RETURNING: its INSERTs can then queue up and travel as one
    # batch, instead of one request per 100-parameter chunk. (Auto-increment ids are
    # not set on the objects; coachbot's models generate their keys in the app.)
    can_return_rows_from_bulk_insert = False
    supports_temporal_subtraction = True
    # No Python functions on D1, so no REGEXP.
    supports_regex_backreferencing = False
