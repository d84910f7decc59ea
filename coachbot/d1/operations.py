"""SQL generation for D1: Django's sqlite3 operations with every Python function replaced.

Django's sqlite3 backend registers Python functions on the connection for date
extraction, truncation, time-zone conversion, duration arithmetic and REGEXP. D1
runs built-in SQL functions only, so each of those compiles here to SQLite's
built-in date functions; what cannot be expressed raises ``NotSupportedError``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import NotSupportedError
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations
from django.db.models import aggregates, functions

from .timezones import modifier_sql

# Functions Django implements on SQLite with Python callbacks (see sqlite3/_functions.py).
_PYTHON_ONLY = (
    functions.MD5, functions.SHA1, functions.SHA224, functions.SHA256, functions.SHA384,
    functions.SHA512, functions.LPad, functions.RPad, functions.Repeat, functions.Reverse,
    functions.Cot, aggregates.StdDev, aggregates.Variance,
)
_EXTRACT = {
    "year": "CAST(strftime('%%Y', {x}) AS INTEGER)",
    "month": "CAST(strftime('%%m', {x}) AS INTEGER)",
    "day": "CAST(strftime('%%d', {x}) AS INTEGER)",
    "hour": "CAST(strftime('%%H', {x}) AS INTEGER)",
    "minute": "CAST(strftime('%%M', {x}) AS INTEGER)",
    "second": "CAST(strftime('%%S', {x}) AS INTEGER)",
    "week_day": "(CAST(strftime('%%w', {x}) AS INTEGER) + 1)",
    "iso_week_day": "((CAST(strftime('%%w', {x}) AS INTEGER) + 6) %% 7 + 1)",
    "quarter": "((CAST(strftime('%%m', {x}) AS INTEGER) + 2) / 3)",
    # ISO weeks belong to the year of their Thursday.
    "week": "((CAST(strftime('%%j', date({x}, '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1)",
    "iso_year": "CAST(strftime('%%Y', date({x}, '-3 days', 'weekday 4')) AS INTEGER)",
}
_QUARTER_START = "printf('%%02d', ((CAST(strftime('%%m', {x}) AS INTEGER) - 1) / 3) * 3 + 1)"
_DATE_TRUNC = {
    "year": "strftime('%%Y-01-01', {x})",
    "quarter": "(strftime('%%Y-', {x}) || " + _QUARTER_START + " || '-01')",
    "month": "strftime('%%Y-%%m-01', {x})",
    "week": "date({x}, 'weekday 0', '-6 days')",
    "day": "date({x})",
}
_TIME_TRUNC = {
    "hour": "strftime('%%H:00:00', {x})",
    "minute": "strftime('%%H:%%M:00', {x})",
    "second": "strftime('%%H:%%M:%%S', {x})",
}
_DATETIME_TRUNC = {
    **{kind: "(" + sql + " || ' 00:00:00')" for kind, sql in _DATE_TRUNC.items()},
    "hour": "strftime('%%Y-%%m-%%d %%H:00:00', {x})",
    "minute": "strftime('%%Y-%%m-%%d %%H:%%M:00', {x})",
    "second": "strftime('%%Y-%%m-%%d %%H:%%M:%%S', {x})",
}
_CLOCK_DAY = "('2000-01-01 ' || t)"  # a time of day ('HH:MM:SS[.ffffff]') as a datetime text


def _seconds(x: str) -> str:
    """The text without its fraction: SQLite keeps milliseconds, so with a modifier (or
    '%%s') it rounds '23:59:59.9999' up into the next day."""
    return f"substr({x}, 1, 19)"


def _lookup(table: dict, kind: str, x: str) -> str:
    try:
        return table[kind].format(x=_seconds(x))
    except KeyError:
        raise NotSupportedError(f"the {kind!r} date/time lookup is not supported on D1") from None


def _micros(x: str, fraction_at: int) -> str:
    """Whole microseconds since the epoch of a date/datetime/time text, exactly."""
    return (
        f"(CAST(strftime('%%s', {_seconds(x)}) AS INTEGER) * 1000000 + "
        f"CAST(substr(substr({x}, {fraction_at}) || '000000', 1, 6) AS INTEGER))"
    )


def _from_micros(t: str, shape: str = "%%Y-%%m-%%d %%H:%%M:%%S") -> str:
    """Microseconds since the epoch as text in ``shape``, with a fraction when there is one."""
    frac = f"((({t}) %% 1000000 + 1000000) %% 1000000)"
    secs = f"((({t}) - {frac}) / 1000000)"
    return (
        f"(strftime('{shape}', {secs}, 'unixepoch') || "
        f"CASE WHEN {frac} = 0 THEN '' ELSE '.' || printf('%%06d', {frac}) END)"
    )


class DatabaseOperations(SQLiteOperations):
    def check_expression_support(self, expression):
        if isinstance(expression, _PYTHON_ONLY):
            raise NotSupportedError(
                f"{type(expression).__name__}() is not supported on D1: Django computes it "
                "in a Python function, and D1 runs built-in SQL functions only"
            )
        super().check_expression_support(expression)

    def bulk_batch_size(self, fields, objs):
        return max(1, self.connection.features.max_query_params // max(len(fields), 1))

    def last_executed_query(self, cursor, sql, params):
        # The sqlite3 version asks the database to quote the params: a request to D1.
        return f"{sql} -- params: {params!r}" if params else sql

    # -- time zones --------------------------------------------------------------------
    def _local(self, sql: str, params, tzname: str | None) -> tuple[str, tuple]:
        """``sql`` (UTC text) shifted into ``tzname``, keeping its fractional seconds."""
        params = tuple(params)
        if not (settings.USE_TZ and tzname) or tzname == self.connection.timezone_name:
            return sql, params
        modifier, modifier_params = modifier_sql(tzname, sql, params)
        shifted = f"(datetime({_seconds(sql)}, {modifier}) || substr({sql}, 20))"
        return shifted, params + modifier_params + params

    def date_extract_sql(self, lookup_type, sql, params):
        return _lookup(_EXTRACT, lookup_type.lower(), sql), tuple(params) * self._uses(lookup_type)

    def time_extract_sql(self, lookup_type, sql, params):
        return self.date_extract_sql(lookup_type, sql, params)

    def datetime_extract_sql(self, lookup_type, sql, params, tzname):
        sql, params = self._local(sql, params, tzname)
        return self.date_extract_sql(lookup_type, sql, params)

    def date_trunc_sql(self, lookup_type, sql, params, tzname=None):
        sql, params = self._local(sql, params, tzname)
        return _lookup(_DATE_TRUNC, lookup_type.lower(), sql), params * self._uses(lookup_type, _DATE_TRUNC)

    def time_trunc_sql(self, lookup_type, sql, params, tzname=None):
        sql, params = self._local(sql, params, tzname)
        return _lookup(_TIME_TRUNC, lookup_type.lower(), sql), params

    def datetime_trunc_sql(self, lookup_type, sql, params, tzname):
        sql, params = self._local(sql, params, tzname)
        return _lookup(_DATETIME_TRUNC, lookup_type.lower(), sql), params * self._uses(lookup_type, _DATETIME_TRUNC)

    def datetime_cast_date_sql(self, sql, params, tzname):
        sql, params = self._local(sql, params, tzname)
        return f"date({sql})", params

    def datetime_cast_time_sql(self, sql, params, tzname):
        sql, params = self._local(sql, params, tzname)
        return f"(strftime('%%H:%%M:%%S', {sql}) || substr({sql}, 20))", params * 2

    @staticmethod
    def _uses(lookup_type: str, table: dict = _EXTRACT) -> int:
        """How many times the template repeats the expression (its params repeat too)."""
        template = table.get(lookup_type.lower(), "{x}")
        return template.count("{x}")

    # -- arithmetic --------------------------------------------------------------------
    def combine_expression(self, connector, sub_expressions):
        if connector == "#":  # XOR from AND and OR: there is no built-in BITXOR
            a, b = sub_expressions  # each once (see combine_duration_expression)
            return f"(SELECT (a | b) - (a & b) FROM (SELECT {a} AS a, {b} AS b))"
        return super().combine_expression(connector, sub_expressions)

    def combine_duration_expression(self, connector, sub_expressions):
        if connector not in ("+", "-", "*", "/"):
            raise NotSupportedError(f"the {connector!r} operator is not supported for durations")
        lhs, rhs = sub_expressions
        if connector in ("*", "/"):
            return f"(({lhs}) {connector} ({rhs}))"
        # One side is a duration (integer microseconds), the other a date, datetime or
        # time text. Django passes each side's params once, so each side appears once:
        # named in a one-row subquery (t the text, d the duration), then used as often
        # as the arithmetic needs. A time moves on a clock face: it wraps at midnight.
        on_day = _from_micros(f"{_micros('t', 21)} {connector} d")
        on_clock = _from_micros(f"{_micros(_CLOCK_DAY, 21)} {connector} d", "%%H:%%M:%%S")
        is_duration = "typeof(a) IN ('integer', 'real')"
        return (
            f"(SELECT CASE WHEN substr(t, 3, 1) = ':' THEN {on_clock} ELSE {on_day} END "
            f"FROM (SELECT iif({is_duration}, b, a) AS t, iif({is_duration}, a, b) AS d "
            f"FROM (SELECT {lhs} AS a, {rhs} AS b)))"
        )

    def subtract_temporals(self, internal_type, lhs, rhs):
        lhs_sql, lhs_params = lhs
        rhs_sql, rhs_params = rhs
        at = 10 if internal_type == "TimeField" else 21
        sql = f"({_micros(lhs_sql, at)} - {_micros(rhs_sql, at)})"
        return sql, (*lhs_params, *lhs_params, *rhs_params, *rhs_params)

    def regex_lookup(self, lookup_type):
        raise NotSupportedError(
            f"the {lookup_type!r} lookup is not supported on D1: it has no REGEXP function"
        )

    # -- flush -------------------------------------------------------------------------
    def _references_graph(self, table_name):
        """Tables that reference ``table_name``, transitively (the sqlite3 version uses REGEXP)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
            tables = cursor.fetchall()
        found, frontier = {table_name}, [table_name]
        while frontier:
            target = frontier.pop()
            for name, sql in tables:
                if name not in found and f'REFERENCES "{target}"'.lower() in sql.lower():
                    found.add(name)
                    frontier.append(name)
        return sorted(found)

    # -- converters --------------------------------------------------------------------
    def get_db_converters(self, expression):
        converters = super().get_db_converters(expression)
        if expression.output_field.get_internal_type() == "FloatField":
            converters.append(self.convert_floatfield_value)
        return converters

    def convert_floatfield_value(self, value, expression, connection):
        # D1 writes a whole REAL as a JSON integer (2.0 arrives as 2).
        return float(value) if isinstance(value, int) else value
