"""Schema changes on D1: each migration one atomic batch, table rebuilds in D1's order.

The schema editor runs inside ``atomic()``, so its statements queue up and leave as
one batch, which starts with ``PRAGMA defer_foreign_keys = ON`` (foreign keys cannot
be switched off on D1, only deferred to the end of the batch). Deferred statements
run at once, so that Django records the migration inside the same batch.

SQLite rebuilds a table as "create new, copy, drop old, rename new", which D1
refuses when other tables reference it. D1 accepts "copy to a holding table, drop,
create in the new shape, copy back", so ``_remake_table`` reorders Django's
statements into that.
"""

from django.db import NotSupportedError
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.sqlite3.schema import DatabaseSchemaEditor as SQLiteSchemaEditor

HOLDING_SUFFIX = "__d1_hold"


class _RunAtOnce(list):
    """A deferred-SQL list that runs each statement as it is added (it still queues)."""

    def __init__(self, editor: "DatabaseSchemaEditor") -> None:
        super().__init__()
        self.editor = editor

    def append(self, sql) -> None:
        self.editor.execute(sql)

    def extend(self, statements) -> None:
        for sql in statements:
            self.editor.execute(sql)


class DatabaseSchemaEditor(SQLiteSchemaEditor):
    _captured: list | None = None

    def __enter__(self):
        # Not SQLite's __enter__: foreign keys cannot be disabled on D1, only deferred.
        BaseDatabaseSchemaEditor.__enter__(self)
        if self.atomic_migration and not self.collect_sql:
            self.execute("PRAGMA defer_foreign_keys = ON")
        self.deferred_sql = _RunAtOnce(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # Not SQLite's __exit__: its foreign key check is a read that would split the
        # batch, and D1 checks deferred foreign keys at the end of the batch anyway.
        self.deferred_sql = []
        BaseDatabaseSchemaEditor.__exit__(self, exc_type, exc_value, traceback)

    def execute(self, sql, params=()):
        if self._captured is not None:
            self._captured.append((str(sql), params))
            return
        super().execute(sql, params)

    def _remake_table(self, model, create_field=None, delete_field=None, alter_fields=None):
        table = model._meta.db_table
        captured, deferred = [], self.deferred_sql
        self._captured, self.deferred_sql = captured, []
        try:
            super()._remake_table(model, create_field, delete_field, alter_fields)
        finally:
            self._captured, self.deferred_sql = None, deferred
        for sql, params in _d1_order(captured, table, self.quote_name):
            self.execute(sql, params)


def _d1_order(captured: list, table: str, quote) -> list:
    """Django's rebuild (create new, copy, drop, rename, indexes) in the order D1 accepts."""
    old, new, hold = quote(table), quote(f"new__{table}"), quote(f"{table}{HOLDING_SUFFIX}")
    kinds = [sql.split(None, 2)[:2] for sql, _ in captured]
    expected = [["CREATE", "TABLE"], ["INSERT", "INTO"], ["DROP", "TABLE"], ["ALTER", "TABLE"]]
    if kinds[:4] != expected:
        raise NotSupportedError(f"unexpected table rebuild statements for {table}: {kinds}")
    (create, create_params), (copy, copy_params), _, _ = captured[:4]
    select_part, _, source = copy.rpartition(" FROM ")
    if source.strip() != old:
        raise NotSupportedError(f"unexpected copy statement in the rebuild of {table}")
    return [
        (f"CREATE TABLE {hold} AS SELECT * FROM {old}", ()),
        (f"DROP TABLE {old}", ()),
        (create.replace(new, old), create_params),
        (select_part.replace(new, old, 1) + f" FROM {hold}", copy_params),
        (f"DROP TABLE {hold}", ()),
        *captured[4:],
    ]
