"""What Cloudflare's local runtime answers on D1's and KV's REST API (see cfruntime/README.md)."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time

import httpx
import pytest

from tests.support.cfruntime import (
    CFRUNTIME_DIR,
    CfRuntime,
    cfruntime_session,
    skip_unless_cfruntime,
)

skip_unless_cfruntime()
pytestmark = pytest.mark.cloudflare

_names = (f"t{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def runtime():
    """One runtime (fresh in-memory storage) for the whole module."""
    yield from cfruntime_session()


@pytest.fixture(scope="module")
def client(runtime: CfRuntime):
    """An httpx client that sends the runtime's bearer token."""
    with httpx.Client(headers=runtime.headers, timeout=30) as client:
        yield client


@pytest.fixture
def d1(runtime: CfRuntime, client: httpx.Client):
    """POST one statement or a batch to /raw (or /query); returns the httpx response."""

    def send(sql_or_batch, params=None, endpoint="raw"):
        if isinstance(sql_or_batch, list):
            body = {"batch": [{"sql": s, "params": p} for s, p in sql_or_batch]}
        else:
            body = {"sql": sql_or_batch, "params": params or []}
        return client.post(f"{runtime.d1_url}/{endpoint}", json=body)

    return send


@pytest.fixture
def sql_error(d1):
    """Run SQL that must fail; returns D1's error message."""

    def run(sql_or_batch, params=None):
        response = d1(sql_or_batch, params)
        body = response.json()
        assert response.status_code == 400, body
        assert body["success"] is False and body["result"] == []
        assert [e["code"] for e in body["errors"]] == [7500]
        return body["errors"][0]["message"]

    return run


def rows(response: httpx.Response, item: int = -1) -> list:
    assert response.status_code == 200, response.text
    return response.json()["result"][item]["results"]["rows"]


@pytest.fixture
def family(d1):
    """A fresh parent/child pair of tables; returns (parent, child) names."""
    parent, child = next(_names), next(_names)
    response = d1(
        [
            (f"CREATE TABLE {parent} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)", []),
            (
                f"CREATE TABLE {child} (id INTEGER PRIMARY KEY, note TEXT CHECK (length(note) < 10),"
                f" parent_id INTEGER NOT NULL REFERENCES {parent}(id) ON DELETE CASCADE)",
                [],
            ),
        ]
    )
    assert response.status_code == 200, response.text
    return parent, child


# ---------------------------------------------------------------- D1 shapes


def test_raw_keeps_duplicate_column_names(d1):
    response = d1("SELECT 1 AS a, 2 AS a")
    assert response.json()["result"][0]["results"] == {"columns": ["a", "a"], "rows": [[1, 2]]}


def test_raw_keeps_columns_of_zero_rows(d1, family):
    parent, _ = family
    results = d1(f"SELECT id, name FROM {parent}").json()["result"][0]["results"]
    assert results == {"columns": ["id", "name"], "rows": []}


def test_raw_envelope_and_meta(d1):
    body = d1("SELECT 1").json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    item = body["result"][0]
    assert item["success"] is True
    assert {
        "changes",
        "last_row_id",
        "duration",
        "rows_read",
        "rows_written",
        "changed_db",
        "size_after",
    } <= item["meta"].keys()


def test_query_gives_rows_as_objects_and_collapses_duplicates(d1):
    item = d1("SELECT 1 AS a, 2 AS a, 'x' AS b", endpoint="query").json()["result"][0]
    assert item["success"] is True and "changes" in item["meta"]
    assert item["results"] == [{"a": 2, "b": "x"}]


def test_batch_gives_one_item_per_statement(d1):
    body = d1([("SELECT 1 AS x", []), ("SELECT ? AS y, ? AS y", ["a", "b"])]).json()
    assert [item["results"] for item in body["result"]] == [
        {"columns": ["x"], "rows": [[1]]},
        {"columns": ["y", "y"], "rows": [["a", "b"]]},
    ]


@pytest.mark.parametrize("third", ["INSERT INTO {parent} (name) VALUES ('a')", "SELEC 1"])
def test_batch_is_atomic(d1, family, third):
    parent, _ = family
    response = d1(
        [
            (f"INSERT INTO {parent} (name) VALUES ('a')", []),
            (f"INSERT INTO {parent} (name) VALUES ('b')", []),
            (third.format(parent=parent), []),
        ]
    )
    assert response.status_code == 400
    assert rows(d1(f"SELECT count(*) FROM {parent}")) == [[0]]


def test_meta_counts_changes_and_last_row_id(d1, family):
    parent, _ = family
    inserted = d1(f"INSERT INTO {parent} (name) VALUES ('a'), ('b'), ('c')").json()["result"][0]
    assert inserted["meta"]["changes"] == 3 and inserted["meta"]["last_row_id"] == 3
    updated = d1(f"UPDATE {parent} SET name = name || '!' WHERE id > 1").json()["result"][0]
    assert updated["meta"]["changes"] == 2
    assert updated["meta"]["last_row_id"] == 3  # carries over from the insert


def test_defer_foreign_keys_in_a_batch_allows_child_first(d1, family):
    parent, child = family
    response = d1(
        [
            ("PRAGMA defer_foreign_keys = ON", []),
            (f"INSERT INTO {child} (note, parent_id) VALUES ('n', 7)", []),
            (f"INSERT INTO {parent} (id, name) VALUES (7, 'p')", []),
        ]
    )
    assert response.status_code == 200, response.text
    assert rows(d1(f"SELECT parent_id FROM {child}")) == [[7]]


def test_deferred_foreign_key_left_broken_rolls_back(sql_error, d1, family):
    parent, child = family
    message = sql_error(
        [
            ("PRAGMA defer_foreign_keys = ON", []),
            (f"INSERT INTO {child} (note, parent_id) VALUES ('n', 99)", []),
        ]
    )
    assert message.startswith(
        "Durable Object was reset and rolled back to its last known good state because the "
        "application left the database in a state where constraints were violated: "
        "FOREIGN KEY constraint failed"
    )
    assert rows(d1(f"SELECT count(*) FROM {child}")) == [[0]]


# ---------------------------------------------------------------- D1 values


def test_numbers_bind_as_real(d1):
    table = next(_names)
    d1(f"CREATE TABLE {table} (t TEXT, i INTEGER, r REAL)")
    d1(f"INSERT INTO {table} VALUES (?, ?, ?)", [5, 5, 5])
    assert rows(d1(f"SELECT t, typeof(t), i, typeof(i), typeof(r) FROM {table}")) == [
        ["5.0", "text", 5, "integer", "real"]
    ]
    assert rows(d1("SELECT typeof(?), typeof(?), ?", [5, True, True])) == [["real", "real", 1]]


def test_integers_beyond_2_53_are_rounded(d1):
    result = rows(
        d1(
            "SELECT 9223372036854775807, ?, CAST(? AS INTEGER) + 0 = 9007199254740993,"
            " CAST(9223372036854775807 AS TEXT)",
            [9007199254740993, "9007199254740993"],
        )
    )
    assert result == [[9223372036854776000, 9007199254740992, 1, "9223372036854775807"]]


def test_blob_round_trip(d1):
    blob = [0, 1, 127, 128, 255]
    assert rows(d1("SELECT ?, typeof(?), x'00ff'", [blob, blob])) == [[blob, "blob", [0, 255]]]


# ---------------------------------------------------------------- D1 error texts


def test_unique_and_primary_key_errors(sql_error, d1, family):
    parent, _ = family
    d1(f"INSERT INTO {parent} (id, name) VALUES (1, 'a')")
    assert sql_error(f"INSERT INTO {parent} (name) VALUES ('a')") == (
        f"UNIQUE constraint failed: {parent}.name: "
        "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
    )
    assert sql_error(f"INSERT INTO {parent} (id, name) VALUES (1, 'b')") == (
        f"UNIQUE constraint failed: {parent}.id: "
        "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)"
    )


def test_constraint_errors(sql_error, family):
    parent, child = family
    assert sql_error(f"INSERT INTO {child} (note, parent_id) VALUES ('n', 42)") == (
        "FOREIGN KEY constraint failed: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_FOREIGNKEY)"
    )
    assert sql_error(f"INSERT INTO {child} (note) VALUES ('n')") == (
        f"NOT NULL constraint failed: {child}.parent_id: "
        "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)"
    )
    assert sql_error(f"INSERT INTO {child} (note, parent_id) VALUES ('far too long', 1)") == (
        "CHECK constraint failed: length(note) < 10: "
        "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_CHECK)"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'near "SELEC": syntax error at offset 0: SQLITE_ERROR'),
        ("SELECT (1", "incomplete input: SQLITE_ERROR"),
        ("SELECT * FROM nope", "no such table: nope: SQLITE_ERROR"),
        ("PRAGMA user_version", "not authorized: SQLITE_AUTH"),
        ("PRAGMA journal_mode", "not authorized: SQLITE_AUTH"),
        ("SELECT * FROM _cf_METADATA", "access to _cf_METADATA.key is prohibited: SQLITE_AUTH"),
        ("CREATE TABLE _cf_x (a)", "not authorized: SQLITE_AUTH"),
        ("CREATE TEMP TABLE tt (a)", "not authorized: SQLITE_AUTH"),
        ("ATTACH DATABASE 'other' AS other", "not authorized: SQLITE_AUTH"),
        ("VACUUM", "cannot VACUUM from within a transaction: SQLITE_ERROR"),
        ("SELECT * FROM generate_series(1, 3)", "no such table: generate_series: SQLITE_ERROR"),
        (
            "SELECT sqlite_version()",
            "not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR",
        ),
        (" UNION ALL ".join(["SELECT 1"] * 6), "too many terms in compound SELECT: SQLITE_ERROR"),
        ("", "No SQL statements detected."),
        ("-- only a comment", "SQL code did not contain a statement."),
        ("SELECT ?, ?", "Wrong number of parameter bindings for SQL query."),
    ],
)
def test_sql_error_texts(sql_error, sql, message):
    assert sql_error(sql) == message


def test_pragma_table_form_is_allowed(d1):
    assert rows(d1("SELECT name FROM pragma_table_list() WHERE schema = 'main'"))


def test_foreign_keys_cannot_be_switched_off(d1):
    d1("PRAGMA foreign_keys = OFF")
    assert rows(d1("PRAGMA foreign_keys")) == [[1]]


def test_multi_statement_sql_returns_only_the_last_rows(d1):
    body = d1("SELECT 1 AS a; SELECT 2 AS b").json()
    assert [item["results"] for item in body["result"]] == [{"columns": ["b"], "rows": [[2]]}]


def test_params_of_unsupported_types_are_malformed(d1):
    for param in ({"a": 1}, [1, 300]):
        response = d1("SELECT ?", [param])
        assert response.status_code == 400 and response.json()["errors"][0]["code"] == 7400


def test_five_union_all_terms_are_allowed(d1):
    assert rows(d1(" UNION ALL ".join(["SELECT 1"] * 5))) == [[1]] * 5


def test_more_than_100_params_is_refused(sql_error, d1):
    assert rows(d1(f"SELECT {', '.join(['?'] * 100)}", list(range(100))))
    message = sql_error(f"SELECT {', '.join(['?'] * 101)}", list(range(101)))
    assert message.startswith("too many SQL variables at offset ")
    assert message.endswith(": SQLITE_ERROR")


def test_statement_over_100_kb_is_refused(sql_error):
    assert sql_error(f"SELECT '{'x' * 100_000}'") == "statement too long: SQLITE_TOOBIG"


@pytest.mark.parametrize(
    "sql", ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "END"]
)
def test_transaction_statements_are_refused(sql_error, sql):
    expected = (
        "To execute a transaction, please use the state.storage.transaction() or "
        "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or "
        "SAVEPOINT statements."
    )
    assert sql_error(sql).startswith(expected)
    assert sql_error([("SELECT 1", []), (sql, [])]).startswith(expected)


def test_query_endpoint_reports_the_same_error_text(d1):
    response = d1("SELECT * FROM nope", endpoint="query")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": 7500, "message": "no such table: nope: SQLITE_ERROR"}
    ]


# ---------------------------------------------------------------- auth and routing


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_bad_token_is_refused(runtime, headers):
    response = httpx.post(f"{runtime.d1_url}/raw", json={"sql": "SELECT 1"}, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["errors"] == [{"code": 10000, "message": "Authentication error"}]


def test_unknown_database_is_not_found(runtime, client):
    url = f"{runtime.url}/accounts/{runtime.account_id}/d1/database/other/raw"
    response = client.post(url, json={"sql": "SELECT 1"})
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_stats_count_requests(runtime, client):
    before = httpx.get(runtime.stats_url).json()["requests"]
    client.post(f"{runtime.d1_url}/raw", json={"sql": "SELECT 1"})
    client.get(f"{runtime.kv_url}/keys")
    assert httpx.get(runtime.stats_url).json()["requests"] == before + 2


# ---------------------------------------------------------------- KV


@pytest.fixture
def kv(runtime: CfRuntime, client: httpx.Client):
    """Call a KV path (`values/...`, `keys`, `bulk`...) below the namespace."""

    def call(method, path, **kwargs):
        return client.request(method, f"{runtime.kv_url}/{path}", **kwargs)

    return call


def kv_error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["success"] is False
    return response.status_code, body["errors"][0]["message"]


def test_kv_put_get_delete_with_percent_encoded_key(kv):
    assert kv("PUT", "values/a%2Fb:c%20d", content=b"\x00\xffbytes").json()["success"] is True
    got = kv("GET", "values/a%2Fb:c%20d")
    assert got.status_code == 200 and got.content == b"\x00\xffbytes"
    assert "expiration" not in got.headers
    assert kv("DELETE", "values/a%2Fb:c%20d").status_code == 200
    assert kv("GET", "values/a%2Fb:c%20d").status_code == 404
    assert kv("DELETE", "values/never-there").status_code == 200


def test_kv_empty_value_round_trips(kv):
    kv("PUT", "values/empty", content=b"")
    assert kv("GET", "values/empty").content == b""


def test_kv_missing_key_is_404_with_cloudflare_text(kv):
    response = kv("GET", "values/missing")
    assert response.status_code == 404
    assert response.json()["errors"] == [{"code": 10009, "message": "get: 'key not found'"}]


def test_kv_expiration_ttl_sets_expiration_header(kv):
    kv("PUT", "values/ttl", content=b"v", params={"expiration_ttl": 120})
    got = kv("GET", "values/ttl")
    assert got.content == b"v" and int(got.headers["expiration"]) > 0


def test_kv_expiration_ttl_wins_over_expiration(kv):
    far = int(time.time()) + 86_400
    kv("PUT", "values/both", content=b"v", params={"expiration": far, "expiration_ttl": 120})
    assert int(kv("GET", "values/both").headers["expiration"]) <= time.time() + 120


def test_kv_multipart_put_stores_metadata(kv):
    kv("PUT", "values/meta", files={"value": (None, "v1"), "metadata": (None, '{"x": 1}')})
    assert kv("GET", "values/meta").content == b"v1"
    assert kv("GET", "metadata/meta").json()["result"] == {"x": 1}


def test_kv_list_pages_with_cursor(kv):
    for n in range(25):
        kv("PUT", f"values/page:{n:02}", content=b"v")
    names, cursor = [], ""
    while True:
        body = kv("GET", "keys", params={"prefix": "page:", "limit": 10, "cursor": cursor}).json()
        assert body["result_info"]["count"] == len(body["result"])
        names += [key["name"] for key in body["result"]]
        cursor = body["result_info"]["cursor"]
        if not cursor:
            break
    assert names == [f"page:{n:02}" for n in range(25)]


def test_kv_list_shows_expiration_and_metadata(kv):
    kv(
        "PUT",
        "values/listed",
        files={"value": (None, "v"), "metadata": (None, '{"m": 1}')},
        params={"expiration_ttl": 300},
    )
    [key] = kv("GET", "keys", params={"prefix": "listed"}).json()["result"]
    assert key["name"] == "listed" and key["metadata"] == {"m": 1} and key["expiration"] > 0


def test_kv_bulk_put_get_and_delete(kv):
    pairs = [
        {"key": "bulk:text", "value": '{"j": 1}'},
        {
            "key": "bulk:b64",
            "value": base64.b64encode(b"hi").decode(),
            "base64": True,
            "metadata": {"m": 2},
        },
    ]
    assert kv("PUT", "bulk", json=pairs).json()["result"] == {
        "successful_key_count": 2,
        "unsuccessful_keys": [],
    }
    assert kv("GET", "values/bulk:b64").content == b"hi"

    keys = ["bulk:text", "bulk:b64", "bulk:missing"]
    text = kv("POST", "bulk/get", json={"keys": keys, "type": "text"}).json()["result"]
    assert text == {"values": {"bulk:text": '{"j": 1}', "bulk:b64": "hi", "bulk:missing": None}}
    as_json = kv("POST", "bulk/get", json={"keys": ["bulk:text"], "type": "json"}).json()
    assert as_json["result"] == {"values": {"bulk:text": {"j": 1}}}
    with_meta = kv("POST", "bulk/get", json={"keys": keys[1:], "withMetadata": True}).json()
    assert with_meta["result"]["values"] == {
        "bulk:b64": {"value": "hi", "metadata": {"m": 2}},
        "bulk:missing": None,
    }

    deleted = kv("POST", "bulk/delete", json=keys).json()["result"]
    assert deleted["successful_key_count"] == 3
    assert kv("GET", "values/bulk:text").status_code == 404


def test_kv_ttl_below_60_is_refused(kv):
    response = kv("PUT", "values/short", content=b"v", params={"expiration_ttl": 30})
    assert kv_error(response) == (
        400,
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
    )


def test_kv_key_over_512_bytes_is_refused(kv):
    response = kv("PUT", f"values/{'k' * 513}", content=b"v")
    assert kv_error(response) == (
        414,
        "UTF-8 encoded length of 513 exceeds key length limit of 512.",
    )


def test_kv_value_over_25_mib_is_refused(kv):
    response = kv("PUT", "values/huge", content=b"x" * (25 * 1024 * 1024 + 1))
    assert kv_error(response) == (413, "Value length of 26214401 exceeds limit of 26214400.")


# ---------------------------------------------------------------- the launcher


def test_launcher_exits_when_stdin_closes():
    command = ["node", str(CFRUNTIME_DIR / "serve.mjs"), "--port", "0"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = json.loads(process.stdout.readline())
    assert ready["url"].startswith("http://127.0.0.1:") and ready["url"].endswith("/client/v4")
    process.stdin.close()
    assert process.wait(timeout=15) == 0
    process.stdout.close()
