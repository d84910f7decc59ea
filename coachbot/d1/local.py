"""The embedded local D1: a SQLite file that answers D1's REST shapes and keeps D1's rules.

It is what ``coachbot.d1`` talks to when no API token is configured, and the fast
test target. It enforces what production D1 enforces, so code that works here
works there: the PRAGMA and function allowlists (an SQLite authorizer), no
BEGIN/COMMIT/SAVEPOINT/ATTACH/TEMP, foreign keys always on, 100 bound parameters,
100 KB statements, 5-term compound selects, JSON numbers bound as REAL, D1's error
texts, and a batch as the one atomic unit.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

from .budget import Budget, Unlimited, spend
from .transport import MAX_SAFE_INTEGER

ALLOWED_PRAGMAS = frozenset({
    "table_list", "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "quick_check", "optimize", "data_version",
    "foreign_keys", "defer_foreign_keys", "legacy_alter_table", "case_sensitive_like",
    "ignore_check_constraints", "recursive_triggers", "reverse_unordered_selects",
})
DENIED_FUNCTIONS = frozenset({"regexp", "load_extension", "readfile", "writefile", "fts3_tokenizer"})
DENIED_MODULES = frozenset({"fts3", "fts4", "generate_series"})
TRANSACTION_REFUSED = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)
CONSTRAINTS_RESET = (
    "Durable Object was reset and rolled back to its last known good state because the "
    "application left the database in a state where constraints were violated: "
)
_LIMITS = {
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 100,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 5,
    sqlite3.SQLITE_LIMIT_COLUMN: 100,
    sqlite3.SQLITE_LIMIT_LENGTH: 2_000_000,
}
_TEMP_ACTIONS = frozenset({
    sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_INDEX,
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER, sqlite3.SQLITE_CREATE_TEMP_VIEW,
    sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH,
})
_NAMED_ACTIONS = frozenset({
    sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_CREATE_INDEX,
    sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_TRIGGER,
})
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


class _Refused(Exception):
    """A request D1 refuses before running any statement."""


class LocalD1:
    def __init__(self, path: str | Path, budget: Budget | None = None) -> None:
        self.path = str(path)
        self.budget = budget or Unlimited()
        self._lock = threading.RLock()
        self._internal = False
        self._refusal: str | None = None
        self.db = self._open()

    def describe(self) -> str:
        return f"local D1 at {self.path}"

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys = ON")
        # D1 keeps a metadata table of its own in every database; introspection must hide it.
        db.execute("CREATE TABLE IF NOT EXISTS _cf_METADATA (key INTEGER PRIMARY KEY, value BLOB)")
        for limit, value in _LIMITS.items():
            db.setlimit(limit, value)
        db.set_authorizer(self._authorize)
        return db

    def close(self) -> None:
        self.db.close()

    # -- the REST shapes --------------------------------------------------------------
    def post(self, body: dict, *, read_only: bool = False, priority: int = 1) -> tuple[int, dict]:
        body = json.loads(json.dumps(body))  # exactly what would travel over HTTP
        items = body.get("batch", [body])
        spend(self.budget, priority, len(items))
        with self._lock:
            try:
                results = self._run_batch([(i.get("sql", ""), i.get("params") or []) for i in items])
            except _Refused as exc:
                return 400, _failure(str(exc))
        return 200, {"result": results, "success": True, "errors": [], "messages": []}

    def _run_batch(self, statements: list[tuple[str, list]]) -> list[dict]:
        self._internal_exec("BEGIN IMMEDIATE")
        try:
            results = [self._run(sql, params) for sql, params in statements]
        except BaseException:
            self._internal_exec("ROLLBACK")
            raise
        try:
            self._internal_exec("COMMIT")
        except sqlite3.IntegrityError as exc:  # deferred foreign keys left broken
            self._internal_exec("ROLLBACK")
            raise _Refused(CONSTRAINTS_RESET + _d1_text(exc, "")) from None
        return results

    def _run(self, sql: str, params: list) -> dict:
        statements = _split(sql)
        if not statements:
            stripped = sql.strip()
            raise _Refused("No SQL statements detected." if not stripped else "SQL code did not contain a statement.")
        result = None
        for statement in statements:
            result = self._run_one(statement, params if len(statements) == 1 else [])
        return result

    def _run_one(self, sql: str, params: list) -> dict:
        started = time.perf_counter()
        self._refusal = None
        try:
            cursor = self.db.execute(sql, [_bind(p) for p in params])
            rows = cursor.fetchall()
        except sqlite3.ProgrammingError as exc:
            if "number of bindings" in str(exc):
                raise _Refused("Wrong number of parameter bindings for SQL query.") from None
            raise _Refused(str(exc)) from None
        except sqlite3.Error as exc:
            if "query string is too large" in str(exc):  # Python checks the limit before SQLite
                raise _Refused("statement too long: SQLITE_TOOBIG") from None
            raise _Refused(self._refusal or _d1_text(exc, sql)) from None
        changes = max(cursor.rowcount, 0) if cursor.description is None or "RETURNING" in sql.upper() else 0
        return {
            "results": {
                "columns": [c[0] for c in cursor.description or ()],
                "rows": [[_out(v) for v in row] for row in rows],
            },
            "success": True,
            "meta": {
                "changes": changes,
                "last_row_id": cursor.lastrowid or 0,
                "changed_db": changes > 0,
                "duration": round((time.perf_counter() - started) * 1000, 3),
                "size_after": os.path.getsize(self.path) if self.path != ":memory:" else 0,
            },
        }

    def _internal_exec(self, sql: str) -> None:
        self._internal = True
        try:
            self.db.execute(sql)
        finally:
            self._internal = False

    # -- D1's rules -------------------------------------------------------------------
    def _authorize(self, action, arg1, arg2, dbname, source):
        if self._internal:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if (arg1 or "").lower() in ALLOWED_PRAGMAS else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            if name in DENIED_FUNCTIONS or name.startswith("sqlite_"):
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            self._refusal = TRANSACTION_REFUSED
            return sqlite3.SQLITE_DENY
        if action in _TEMP_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_CREATE_VTABLE and (arg2 or "").lower() in DENIED_MODULES:
            return sqlite3.SQLITE_DENY
        if action in _NAMED_ACTIONS and (arg1 or "").lower().startswith("_cf_"):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def _failure(message: str) -> dict:
    return {"result": [], "success": False, "errors": [{"code": 7500, "message": message}], "messages": []}


def _split(sql: str) -> list[str]:
    """Split a string of SQL into complete statements (D1 runs them all, returns the last)."""
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if _COMMENTS.sub("", current).strip(" \t\r\n;"):
                statements.append(current)
            current = ""
    if _COMMENTS.sub("", current).strip(" \t\r\n;"):
        statements.append(current[:-1])
    return statements


def _bind(value):
    """Bind a JSON value as D1 does: every number is a REAL, arrays of bytes are BLOBs."""
    if isinstance(value, (bool, int)):
        return float(value)
    if isinstance(value, list):
        if all(isinstance(v, int) and 0 <= v <= 255 for v in value):
            return bytes(value)
        raise _Refused("D1_TYPE_ERROR: Type 'object' not supported for value")
    if isinstance(value, dict):
        raise _Refused("D1_TYPE_ERROR: Type 'object' not supported for value")
    return value


def _out(value):
    """A result value as it arrives after D1's JSON: doubles only, BLOBs as byte arrays."""
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return int(float(value))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def _d1_text(exc: sqlite3.Error, sql: str) -> str:
    """SQLite's message in D1's shape: '<text>[ at offset N]: PRIMARY (extended: EXTENDED)'."""
    message = str(exc)
    offset = _offset(message, sql)
    if offset is not None:
        message += f" at offset {offset}"
    name = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    primary = "_".join(name.split("_")[:2])
    if message == "not authorized":
        return "not authorized: SQLITE_AUTH"
    return f"{message}: {primary}" + (f" (extended: {name})" if name != primary else "")


def _offset(message: str, sql: str) -> int | None:
    near = re.match(r'near "(.*)": syntax error', message)
    if near:
        return max(sql.find(near.group(1)), 0)
    function = re.match(r"not authorized to use function: (\w+)", message)
    if function:
        return max(sql.lower().find(function.group(1).lower()), 0)
    if message == "too many SQL variables":
        positions = [m.start() for m in re.finditer(r"\?", sql)]
        return positions[100] if len(positions) > 100 else None
    return None
