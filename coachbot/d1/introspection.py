"""Schema introspection for D1: SQLite's, minus the tables that are not ours."""

from django.db.backends.base.introspection import TableInfo
from django.db.backends.sqlite3.introspection import DatabaseIntrospection as SQLiteIntrospection


class DatabaseIntrospection(SQLiteIntrospection):
    def get_table_list(self, cursor):
        # D1 lists its own _cf_METADATA in sqlite_master, and refuses to let anyone read it.
        cursor.execute(
            "SELECT name, type FROM sqlite_master "
            "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name"
        )
        return [TableInfo(name, kind[0]) for name, kind in cursor.fetchall()]
