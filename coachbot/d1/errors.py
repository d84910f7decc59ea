"""The DB-API exception classes and the mapping from D1's error texts to them.

Django maps driver errors to its own by class name, so a UNIQUE clash must surface
as ``IntegrityError``. D1 answers every SQL error with code 7500 and the SQLite
text, so errors are classified by message, never by code.
"""

import re


class Warning(Exception):  # noqa: A001 - the DB-API name
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


class BudgetExhausted(OperationalError):
    """Cloudflare refused the request (HTTP 429) or the local budget is spent."""


class EarlyFlushError(ProgrammingError):
    """A statement inside atomic() needed a result while writes were queued (strict mode)."""


class ConflictError(IntegrityError):
    """A compare-and-set guard in a batch found no row to change; the batch was rolled back."""


# Order matters: the first pattern that matches decides.
_RULES: list[tuple[re.Pattern, type[Error]]] = [
    (re.compile(r"constraints were violated|SQLITE_CONSTRAINT|constraint failed"), IntegrityError),
    (re.compile(r"too many SQL variables|statement too long|SQLITE_TOOBIG|string or blob too big"), DataError),
    (re.compile(r"Wrong number of parameter bindings|No SQL statements detected|did not contain a statement"), ProgrammingError),
    (re.compile(r"syntax error|incomplete input|no such (table|column|index|function)|ambiguous column|has no column|already exists|too many terms in compound SELECT"), OperationalError),
    (re.compile(r"not authorized|To execute a transaction"), NotSupportedError),
    (re.compile(r"datatype mismatch|SQLITE_MISMATCH|malformed JSON"), DataError),
    (re.compile(r"internal error|overloaded|SQLITE_BUSY|Network connection lost|reset because"), OperationalError),
]


def classify(message: str) -> type[Error]:
    for pattern, exc_class in _RULES:
        if pattern.search(message):
            return exc_class
    return OperationalError
