// Starts workerd (through Miniflare) with worker.mjs on 127.0.0.1 and prints one JSON line
// when ready. Usage:
//   node serve.mjs --port 0 --token T --account acc --d1 dbid --kv nsid [--persist DIR]
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    token: { type: "string", default: "test-token" },
    account: { type: "string", default: "test-account" },
    d1: { type: "string", default: "test-database" },
    kv: { type: "string", default: "test-namespace" },
    persist: { type: "string" },
  },
});

const persist = args.persist ?? false; // false: in memory, gone when the process ends
const mf = new Miniflare({
  modules: true,
  scriptPath: fileURLToPath(new URL("./worker.mjs", import.meta.url)),
  compatibilityDate: "2026-04-01",
  host: "127.0.0.1",
  port: Number(args.port),
  d1Databases: { DB: args.d1 },
  kvNamespaces: { KV: args.kv },
  d1Persist: persist && `${persist}/d1`,
  kvPersist: persist && `${persist}/kv`,
  bindings: {
    TOKEN: args.token,
    ACCOUNT_ID: args.account,
    DATABASE_ID: args.d1,
    NAMESPACE_ID: args.kv,
  },
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Never outlive the parent: it holds our stdin open for as long as it wants us running.
process.stdin.on("end", stop).on("close", stop).resume();

const url = await mf.ready;
const ready = {
  url: new URL("/client/v4", url).href,
  account_id: args.account,
  database_id: args.d1,
  namespace_id: args.kv,
  token: args.token,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
