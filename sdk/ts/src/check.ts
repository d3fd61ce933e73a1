// What a JavaScript user of flowbin does with a client generated from openapi.yaml: log in, then create, list,
// get, update and delete a flow. tsc checks every request and every read of a response against the generated
// types; running it checks the server against them.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

type FlowInput = components["schemas"]["FlowInput"];
type TalkOption = components["schemas"]["ActionOptionTalk"];

class CheckFailed extends Error {}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

function env(name: string): string {
  const value = process.env[name];
  assert(value, `${name} is not set`);
  return value;
}

function step(message: string): void {
  console.log(`ok  ${message}`);
}

async function main(): Promise<void> {
  const client = createClient<paths>({ baseUrl: env("FLOWBIN_URL") });
  const username = env("FLOWBIN_USERNAME");
  const login = await client.POST("/auth/login", { body: { username, password: env("FLOWBIN_PASSWORD") } });
  assert(login.data, `login: HTTP ${login.response.status}: ${login.error?.error.reason}`);
  assert(login.data.username === username, `login: username is ${login.data.username}`);
  assert(login.data.token.split(".").length === 3, "login: the token is not a JWT");
  const token = login.data.token;
  step(`POST /auth/login as ${username}`);

  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);

  const talk: TalkOption = { text: "hello. welcome to voipbin.", language: "en-US" };
  const seed: FlowInput = {
    name: "test flow",
    detail: "test voipbin flow example",
    actions: [{ type: "answer" }, { type: "talk", option: talk }],
  };
  const created = await client.POST("/v1.0/flows", { body: seed });
  assert(created.data, `create: HTTP ${created.response.status}: ${created.error?.error.reason}`);
  const flow = created.data;
  assert(/^[0-9a-f-]{36}$/.test(flow.id), `create: id ${flow.id} is not a UUID`);
  assert(flow.type === "flow", `create: type is ${flow.type}`);
  assert(flow.name === "test flow", `create: name is ${flow.name}`);
  assert(flow.actions.length === 2, `create: ${flow.actions.length} actions, want 2`);
  assert(flow.actions[0]?.type === "answer", `create: actions[0].type is ${flow.actions[0]?.type}`);
  assert(flow.actions[1]?.type === "talk", `create: actions[1].type is ${flow.actions[1]?.type}`);
  assert(flow.actions.every((a) => a.id && a.id.length === 36), "create: an action has no UUID id");
  // `option` is generated as a union that includes a bare `{ [key: string]: unknown }`, so every field read off
  // it is `unknown` and has to be narrowed (here by comparison) before use.
  assert(flow.actions[1]?.option?.text === talk.text, "create: the talk text was not kept");
  assert(flow.tm_create !== "" && flow.tm_update === "" && flow.tm_delete === "", "create: wrong timestamps");
  step(`POST /v1.0/flows created ${flow.id}`);

  const list = await client.GET("/v1.0/flows", { params: { query: { page_size: 10 } } });
  assert(list.data, `list: HTTP ${list.response.status}: ${list.error?.error.reason}`);
  assert(list.data.result.length <= 10, `list: ${list.data.result.length} flows on a page of 10`);
  assert(list.data.result[0]?.id === flow.id, `list: newest flow is ${list.data.result[0]?.id}, want ${flow.id}`);
  assert(list.data.next_page_token === list.data.result.at(-1)?.tm_create, "list: next_page_token is not the last tm_create");
  step(`GET /v1.0/flows?page_size=10 listed ${list.data.result.length} flow(s)`);

  const path = { params: { path: { id: flow.id } } };
  const got = await client.GET("/v1.0/flows/{id}", path);
  assert(got.data, `get: HTTP ${got.response.status}: ${got.error?.error.reason}`);
  assert(got.data.id === flow.id && got.data.detail === seed.detail, "get: not the flow that was created");
  assert(got.data.actions[1]?.id === flow.actions[1]?.id, "get: action ids changed");
  step(`GET /v1.0/flows/${flow.id}`);

  const streamUrl = "https://github.com/pchero/asterisk-medias/raw/master/voipbin/welcome.wav";
  const updated = await client.PUT("/v1.0/flows/{id}", {
    ...path,
    body: {
      name: "test flow update",
      detail: "test voipbin flow example update",
      actions: [...got.data.actions, { type: "play", option: { stream_url: [streamUrl] } }],
    },
  });
  assert(updated.data, `update: HTTP ${updated.response.status}: ${updated.error?.error.reason}`);
  assert(updated.data.name === "test flow update", `update: name is ${updated.data.name}`);
  assert(updated.data.tm_create === flow.tm_create, "update: tm_create changed");
  assert(updated.data.tm_update !== "", "update: tm_update is not set");
  const play = updated.data.actions[2];
  assert(play?.type === "play", `update: actions[2].type is ${play?.type}`);
  const urls = play.option?.stream_url;
  assert(Array.isArray(urls) && urls[0] === streamUrl, `update: stream_url is ${JSON.stringify(urls)}`);
  step(`PUT /v1.0/flows/${flow.id} renamed it and added a play action`);

  const deleted = await client.DELETE("/v1.0/flows/{id}", path);
  assert(deleted.response.status === 204, `delete: HTTP ${deleted.response.status}, want 204`);
  step(`DELETE /v1.0/flows/${flow.id} answered 204`);

  const gone = await client.GET("/v1.0/flows/{id}", path);
  assert(gone.data === undefined && gone.response.status === 404, `get after delete: HTTP ${gone.response.status}`);
  assert(gone.error.error.status === "NOT_FOUND", `get after delete: status is ${gone.error.error.status}`);
  assert(gone.error.error.reason === "FLOW_NOT_FOUND", `get after delete: reason is ${gone.error.error.reason}`);
  assert(gone.error.error.request_id === gone.response.headers.get("X-Request-Id"), "get after delete: request_id");
  step(`GET /v1.0/flows/${flow.id} after delete answered 404 ${gone.error.error.reason}`);
}

// Never called: these lines only have to compile. Each @ts-expect-error fails the build if its line is not an
// error, which is what happens if the generated types ever decay to `any`.
export async function typesAreStrict(client: Client<paths>): Promise<void> {
  // @ts-expect-error name is a string
  await client.POST("/v1.0/flows", { body: { name: 5 } });
  // @ts-expect-error "tlak" is not an ActionType
  await client.POST("/v1.0/flows", { body: { actions: [{ type: "tlak" }] } });
  // @ts-expect-error a talk option needs text
  const noText: TalkOption = { language: "en-US" };
  // @ts-expect-error page_size is a number
  await client.GET("/v1.0/flows", { params: { query: { page_size: "10" } } });
  // @ts-expect-error the path needs an id
  await client.GET("/v1.0/flows/{id}", {});
  const { data } = await client.GET("/v1.0/flows");
  // @ts-expect-error a Flow has no field "title"
  void data?.result[0]?.title;
  void noText;
}

main().then(
  () => console.log("sdk check passed"),
  (err: unknown) => {
    console.error(err instanceof CheckFailed ? `FAIL ${err.message}` : err);
    process.exit(1);
  },
);
