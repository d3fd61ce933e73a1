// An MCP client on the official TypeScript SDK: it connects to flowbin's /mcp with a login token, lists the tools,
// and does an agent's work with them: validate a flow with a mistake, fix it, simulate it, store it, update it
// with If-Match. A call without credentials must be refused. Exits non-zero on the first surprise.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import assert from "node:assert/strict";

const base = process.env.FLOWBIN_URL ?? "http://127.0.0.1:8080";
const username = process.env.FLOWBIN_USERNAME ?? "admin";
const password = process.env.FLOWBIN_PASSWORD ?? "";

type Structured = Record<string, unknown>;

async function login(): Promise<string> {
  const res = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 200, `login: ${res.status}`);
  const body = (await res.json()) as { token: string };
  return body.token;
}

async function connect(token?: string): Promise<Client> {
  const client = new Client({ name: "flowbin-mcp-check", version: "1.0.0" });
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } }));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; data: Structured; text: string }> {
  const res = await client.callTool({ name, arguments: args });
  const content = (res.content ?? []) as Array<{ type: string; text?: string }>;
  const text = content.map((c) => c.text ?? "").join("");
  return { isError: res.isError === true, data: (res.structuredContent ?? {}) as Structured, text };
}

const client = await connect(await login());
const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
console.log(`ok  ${tools.length} tools: ${names.join(", ")}`);
for (const want of ["create_flow", "validate_flow", "simulate_actions", "simulate_flow", "update_flow", "delete_flow", "draw_flow"]) {
  assert.ok(names.includes(want), `no tool ${want}`);
}
const del = tools.find((t) => t.name === "delete_flow");
assert.equal(del?.annotations?.destructiveHint, true, "delete_flow is destructive");
assert.equal(tools.find((t) => t.name === "get_flow")?.annotations?.readOnlyHint, true, "get_flow is read-only");

const actions: Array<Record<string, unknown>> = [
  { id: "menu", type: "digits_receive", option: { duration: 5000, length: 1 } },
  { type: "branch", option: { target_ids: { "1": "sales" }, default_target_id: "bye" } },
  { id: "sales", type: "tlak", option: { text: "sales" } },
  { id: "bye", type: "hangup" },
];
let r = await call(client, "validate_flow", { name: "ts ivr", actions });
assert.equal(r.data.valid, false, r.text);
const errors = r.data.errors as Array<{ pointer: string; message: string }>;
assert.equal(errors[0]?.pointer, "/actions/2/type", r.text);
console.log(`ok  validate_flow: ${errors[0]?.pointer}: ${errors[0]?.message}`);

actions[2]!.type = "talk";
r = await call(client, "simulate_actions", { actions, digits: ["1"] });
assert.equal(r.isError, false, r.text);
const ran = (r.data.executed_actions as Array<{ type: string }>).map((a) => a.type);
assert.ok(ran.includes("talk"), `the sales path: ${ran.join(" ")}`);
console.log(`ok  simulate_actions: ${ran.join(" → ")}`);

r = await call(client, "create_flow", { name: "ts ivr", actions });
assert.equal(r.isError, false, r.text);
const id = r.data.id as string;
const etag = r.data.etag as string;
console.log(`ok  create_flow: etag ${etag}`);

r = await call(client, "update_flow", { id, if_match: etag, name: "ts ivr v2", actions });
assert.equal(r.isError, false, r.text);
assert.equal(r.data.etag, '"r2"', r.text);
r = await call(client, "update_flow", { id, if_match: etag, name: "lost update", actions });
assert.equal(r.isError, true, "a stale if_match must be refused");
console.log(`ok  update_flow: a stale etag is refused: ${r.text.split("\n")[0]}`);

const anon = await connect();
r = await call(anon, "delete_flow", { id });
assert.equal(r.isError, true, "delete without credentials must be refused");
console.log(`ok  delete_flow without credentials: ${r.text.split("\n")[0]}`);
await anon.close();

r = await call(client, "delete_flow", { id, if_match: '"r2"' });
assert.equal(r.isError, false, r.text);
await client.close();
console.log("ok  the TypeScript MCP client lists and calls flowbin's tools");
