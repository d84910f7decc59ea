// Answers the Cloudflare REST API shapes of D1 (/query, /raw) and Workers KV on top of
// workerd's real D1 and KV bindings (env.DB, env.KV). See README.md.
//
// How D1 results are obtained (workerd 2026-04-26, `cloudflare-internal:d1-api`, and
// miniflare's node_modules/miniflare/dist/src/workers/d1/database.worker.js):
// - Every binding call is one POST http://d1/query?resultsFormat=... to a Durable Object that
//   runs all statements of the request inside one storage.transactionSync(): that is what makes
//   a batch atomic. With ROWS_AND_COLUMNS it answers, per statement,
//   {success, results: {columns, rows}, meta}; on any failure a single {success:false, error}.
// - batch() sends exactly that request, then turns rows into objects (duplicate columns
//   collapse to the last value) — fine for /query.
// - stmt.raw({columnNames:true}) keeps duplicate columns but drops meta and covers one statement.
// - So /raw sends batch()'s request itself through the binding's public `fetcher`: same code path,
//   same transaction, nothing converted. BLOBs come back as byte arrays and a JSON array binds
//   as a BLOB there; JS numbers always bind as REAL (SQLite double).

const D1_PATH = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/(query|raw)$/;
const KV_PATH = /^\/client\/v4\/accounts\/([^/]+)\/storage\/kv\/namespaces\/([^/]+)\/(.+)$/;
let requests = 0;

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/__stats") return Response.json({ requests });
    requests += 1;
    if (request.headers.get("authorization") !== `Bearer ${env.TOKEN}`) {
      return failure(401, 10000, "Authentication error");
    }
    try {
      return await route(request, env, path);
    } catch (e) {
      console.error(e);
      const code = path.includes("/d1/") ? 7500 : 10001;
      return failure(500, code, `internal error; reference = ${crypto.randomUUID()}`);
    }
  },
};

async function route(request, env, path) {
  let m = path.match(D1_PATH);
  if (m && request.method === "POST") {
    if (m[1] !== env.ACCOUNT_ID || m[2] !== env.DATABASE_ID) return notRouted(path);
    return d1(request, env, m[3]);
  }
  m = path.match(KV_PATH);
  if (m) {
    if (m[1] !== env.ACCOUNT_ID || m[2] !== env.NAMESPACE_ID) return notRouted(path);
    return kv(request, env, m[3]);
  }
  return failure(404, 7000, "No route for that URI");
}

// ---------------------------------------------------------------- D1

async function d1(request, env, format) {
  let statements;
  try {
    const body = await request.json();
    statements = (Array.isArray(body.batch) ? body.batch : [body]).map(toStatement);
  } catch (e) {
    return failure(400, 7400, `The request is malformed: ${e.message}`, []);
  }
  const outcome = format === "raw" ? await d1Raw(env, statements) : await d1Query(env, statements);
  if (outcome.error !== undefined) return failure(outcome.status, 7500, outcome.error, []);
  return Response.json({ result: outcome.result, success: true, errors: [], messages: [] });
}

function toStatement(s) {
  if (typeof s?.sql !== "string") throw new Error("sql must be a string");
  if (s.params != null && !Array.isArray(s.params)) throw new Error("params must be an array");
  return { sql: s.sql, params: (s.params ?? []).map(toParam) };
}

// What the binding's bind() accepts. Booleans become 1/0, which then bind as REAL like every
// JS number; an array of 0-255 binds as a BLOB.
function toParam(p) {
  if (p === null || typeof p === "number" || typeof p === "string") return p;
  if (typeof p === "boolean") return Number(p);
  if (Array.isArray(p) && p.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) return p;
  throw new Error(`Type '${typeof p}' not supported for value '${JSON.stringify(p)}'`);
}

async function d1Query(env, statements) {
  try {
    const prepared = statements.map((s) => env.DB.prepare(s.sql).bind(...s.params));
    return { result: await env.DB.batch(prepared) };
  } catch (e) {
    // The binding prefixes its errors ("D1_ERROR: ", "D1_TYPE_ERROR: "); the REST API does not.
    return { status: 400, error: e.message.replace(/^D1_[A-Z_]*ERROR: /, "") };
  }
}

async function d1Raw(env, statements) {
  let response;
  try {
    response = await env.DB.fetcher.fetch("http://d1/query?resultsFormat=ROWS_AND_COLUMNS", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(statements),
    });
  } catch (e) {
    // A deferred foreign key left broken at the end of the transaction resets the Durable
    // Object: the call throws "Durable Object was reset and rolled back ..." instead of answering.
    // batch() lets the same exception through unprefixed, so /query reports it identically.
    return { status: 400, error: e.message };
  }
  const text = await response.text();
  if (!response.ok) {
    // Not an SQL error: the Durable Object rejected the request itself (e.g. a parameter of a
    // type it does not accept).
    console.error(`D1 object answered ${response.status}: ${text}`);
    return { status: 500, error: `internal error; reference = ${crypto.randomUUID()}` };
  }
  const answer = JSON.parse(text);
  if (!Array.isArray(answer)) return { status: 400, error: answer.error };
  return { result: answer.map(({ results, success, meta }) => ({ results, success, meta })) };
}

// ---------------------------------------------------------------- KV

async function kv(request, env, rest) {
  const [head, ...tail] = rest.split("/");
  const key = tail.length ? decodeURIComponent(tail.join("/")) : undefined;
  const route = `${request.method} ${head}${key === undefined ? "" : "/"}`;
  try {
    switch (route) {
      case "PUT values/": return await kvPut(request, env, key);
      case "GET values/": return await kvGet(env, key);
      case "DELETE values/": return await kvDelete(env, [key], false);
      case "GET metadata/": return await kvMetadata(env, key);
      case "GET keys": return await kvList(request, env);
      case "PUT bulk": return await kvBulkPut(request, env);
      case "POST bulk/": return await kvBulkPost(request, env, key);
    }
  } catch (e) {
    const binding = kvBindingError(e);
    if (binding) return failure(binding.status, 10001, binding.message);
    throw e;
  }
  return failure(404, 7000, "No route for that URI");
}

// The binding throws e.g. "KV PUT failed: 400 Invalid expiration_ttl of 30. ..." (the HTTP
// status and text of the KV storage object); the REST API answers that status and text.
function kvBindingError(e) {
  const m = /^KV \w+ failed: (\d{3}) (.*)$/s.exec(e?.message ?? "");
  return m && { status: Number(m[1]), message: m[2] };
}

async function kvPut(request, env, key) {
  let value;
  let metadata;
  if ((request.headers.get("content-type") ?? "").startsWith("multipart/form-data")) {
    const form = await request.formData();
    value = form.get("value") ?? "";
    if (typeof value !== "string") value = await value.arrayBuffer();
    if (form.has("metadata")) metadata = JSON.parse(await formText(form.get("metadata")));
  } else {
    value = await request.arrayBuffer();
  }
  const query = new URL(request.url).searchParams;
  await env.KV.put(key, value, { ...expiryOptions(query), metadata });
  return success({});
}

async function formText(part) {
  return typeof part === "string" ? part : part.text();
}

function expiryOptions(source) {
  const get = (name) => (source instanceof URLSearchParams ? source.get(name) : source[name]);
  const ttl = get("expiration_ttl");
  const at = get("expiration");
  // expiration_ttl wins when both are sent.
  if (ttl != null && ttl !== "") return { expirationTtl: Number(ttl) };
  if (at != null && at !== "") return { expiration: Number(at) };
  return {};
}

async function kvGet(env, key) {
  const value = await env.KV.get(key, { type: "arrayBuffer" });
  if (value === null) return failure(404, 10009, "get: 'key not found'");
  const headers = new Headers({ "content-type": "application/octet-stream" });
  const expiration = await kvExpiration(env, key);
  if (expiration !== undefined) headers.set("expiration", String(expiration));
  return new Response(value, { headers });
}

// getWithMetadata() does not tell the expiration; list() with the key as prefix does.
async function kvExpiration(env, key) {
  const { keys } = await env.KV.list({ prefix: key, limit: 1 });
  return keys[0]?.name === key ? keys[0].expiration : undefined;
}

async function kvMetadata(env, key) {
  const { value, metadata } = await env.KV.getWithMetadata(key, { type: "stream" });
  if (value === null) return failure(404, 10009, "get: 'key not found'");
  await value.cancel();
  return success(metadata);
}

async function kvDelete(env, keys, bulk) {
  for (const key of keys) await env.KV.delete(key);
  return success(bulk ? { successful_key_count: keys.length, unsuccessful_keys: [] } : {});
}

async function kvList(request, env) {
  const query = new URL(request.url).searchParams;
  const options = { prefix: query.get("prefix") || undefined, cursor: query.get("cursor") || undefined };
  if (query.has("limit")) options.limit = Number(query.get("limit"));
  const page = await env.KV.list(options);
  const result = page.keys.map(({ name, expiration, metadata }) => ({
    name,
    ...(expiration === undefined ? {} : { expiration }),
    ...(metadata === undefined ? {} : { metadata }),
  }));
  const cursor = page.list_complete ? "" : page.cursor;
  return Response.json({
    result, success: true, errors: [], messages: [],
    result_info: { count: result.length, cursor },
  });
}

async function kvBulkPut(request, env) {
  const pairs = await request.json();
  for (const pair of pairs) {
    const value = pair.base64 ? Uint8Array.from(atob(pair.value), (c) => c.charCodeAt(0)) : pair.value;
    await env.KV.put(pair.key, value, { ...expiryOptions(pair), metadata: pair.metadata });
  }
  return success({ successful_key_count: pairs.length, unsuccessful_keys: [] });
}

async function kvBulkPost(request, env, action) {
  const body = await request.json();
  if (action === "delete") return kvDelete(env, body, true);
  if (action !== "get") return failure(404, 7000, "No route for that URI");
  const type = body.type ?? "text";
  const found = body.withMetadata
    ? await env.KV.getWithMetadata(body.keys, type)
    : await env.KV.get(body.keys, type);
  return success({ values: Object.fromEntries(found) });
}

// ---------------------------------------------------------------- envelopes

function success(result) {
  return Response.json({ result, success: true, errors: [], messages: [] });
}

function failure(status, code, message, result = null) {
  const body = { result, success: false, errors: [{ code, message }], messages: [] };
  return Response.json(body, { status });
}

function notRouted(path) {
  return failure(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
}
