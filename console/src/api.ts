// The flowbin API as the console uses it: credentials for this tab only (sessionStorage), every answer checked,
// every error turned into ApiError with the server's envelope.

export interface Problem {
  pointer?: string;
  parameter?: string;
  reason: string;
  message: string;
  current_revision?: number;
}

export interface Action {
  id?: string;
  next_id?: string;
  /** The name a person gave the action (optional): shown instead of what it does. */
  name?: string;
  type: string;
  option?: Record<string, unknown>;
}

export interface Flow {
  id: string;
  name: string;
  detail: string;
  actions: Action[];
  on_complete_flow_id?: string;
  revision: number;
  tm_create: string;
  tm_update: string;
}

export interface FlowRevision {
  flow_id: string;
  revision: number;
  name: string;
  detail: string;
  actions: Action[];
  on_complete_flow_id?: string;
  author: { type: string; id: string; name: string };
  tm_create: string;
}

export interface GraphNode {
  id: string;
  index: number;
  type: string;
  label: string;
  reachable: boolean;
  name?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: string;
  label?: string;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface ValidationReport {
  valid: boolean;
  errors: Problem[];
  warnings: Problem[];
}

export interface ExecutedAction extends Action {
  id: string;
  step?: number;
  tm_execute: string;
  flow_id?: string;
  flow_revision?: number;
  decision?: { result: string; target_id?: string; reason: string };
}

export interface Activeflow {
  id: string;
  flow_id?: string;
  flow_revision?: number;
  status: "running" | "ended";
  end_reason: string;
  current_action?: ExecutedAction;
  executed_actions: ExecutedAction[];
  variables: Record<string, string>;
  tm_create: string;
  tm_update: string;
  tm_end: string;
}

/** A party of a call, as VoIPbin's address. */
export interface CallAddress {
  type: string;
  target: string;
  target_name: string;
}

/** A phone call that flowbin answered or placed. */
export interface Call {
  id: string;
  flow_id: string;
  activeflow_id: string;
  source: CallAddress;
  destination: CallAddress;
  status: "dialing" | "ringing" | "progressing" | "terminating" | "canceling" | "hangup";
  direction: "incoming" | "outgoing";
  hangup_by: string;
  hangup_reason: string;
  recording_ids: string[];
  tm_ringing: string;
  tm_progressing: string;
  tm_hangup: string;
  tm_create: string;
}

/** A recording of a call; its WAV file is at /v1.0/recordingfiles/{id}. */
export interface Recording {
  id: string;
  reference_id: string;
  activeflow_id: string;
  status: "initiating" | "recording" | "stopping" | "ended";
  tm_start: string;
  tm_end: string;
}

/** How executions went through a flow's revision (GET /v1.0/flows/{id}/stats). */
export interface FlowStats {
  flow_id: string;
  revision: number;
  since: string;
  until: string;
  executions: number;
  running: number;
  actions: { action_id: string; entered: number; visits: number; ended: number; end_reasons: Record<string, number>; median_ms: number | null }[];
  edges: { from: string; to: string; count: number }[];
  ends: Record<string, number>;
}

export interface Accesskey {
  id: string;
  name: string;
  detail: string;
  token_prefix: string;
  tm_expire: string;
  tm_create: string;
  token?: string;
}

export interface Customer {
  id: string;
  name: string;
  webhook_uri: string;
  webhook_method: string;
  [key: string]: unknown;
}

export interface DeliveryAttempt {
  attempt: number;
  tm_attempt: string;
  status: number;
  error: string;
  duration_ms: number;
}

/** A message flowbin owed the customer's system, with its delivery attempts. */
export interface Delivery {
  id: string;
  activeflow_id?: string;
  type: string;
  url: string;
  method: string;
  state: string;
  attempt_count?: number;
  attempts: DeliveryAttempt[];
  tm_create: string;
}

export interface Page<T> {
  result: T[];
  next_page_token: string;
}

/** An answer other than 2xx, with the server's error envelope when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details: Problem[] = [],
    readonly etag = "",
  ) {
    super(message);
  }
}

const keyToken = "flowbin.token";
const keyBase = "flowbin.base";

/** The server the console talks to: "" is the one that served it. */
export function base(): string {
  return sessionStorage.getItem(keyBase) ?? "";
}

export function loggedIn(): boolean {
  return sessionStorage.getItem(keyToken) !== null;
}

export function logout(): void {
  sessionStorage.removeItem(keyToken);
}

/** Answers of a request: the decoded body and the ETag. */
export interface Answer<T> {
  body: T;
  etag: string;
}

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, server = base()): Promise<Answer<T>> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  const token = sessionStorage.getItem(keyToken);
  if (token && !path.startsWith("/auth/")) h.Authorization = "Bearer " + token;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(server + path, { method, headers: h, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  } catch {
    const where = server || location.origin;
    throw new ApiError(0, "UNREACHABLE", server && new URL(server, location.href).origin !== location.origin
      ? `${where} did not answer this page: it is down, or it does not allow ${location.origin} (CORS)`
      : `${where} did not answer: is it running?`);
  }
  const etag = res.headers.get("ETag") ?? "";
  if (res.status === 204) return { body: undefined as T, etag };
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, "NOT_JSON", `${method} ${path}: the answer (${res.status}) is not JSON`);
  }
  if (!res.ok) {
    const e = (data as { error?: { reason: string; message: string; details?: Problem[] } } | undefined)?.error;
    if (res.status === 401 && !path.startsWith("/auth/")) logout();
    throw new ApiError(res.status, e?.reason ?? "HTTP_" + res.status, e?.message ?? `${method} ${path}: ${res.status}`, e?.details ?? [], etag);
  }
  return { body: data as T, etag };
}

/** Logs in with a username and password, or takes an access key, and keeps the credential for this tab. */
export async function login(server: string, username: string, password: string, accesskey: string): Promise<string> {
  server = server.trim().replace(/\/+$/, "");
  if (accesskey) {
    sessionStorage.setItem(keyToken, accesskey.trim());
    sessionStorage.setItem(keyBase, server);
    try {
      await call("GET", "/v1.0/flows?page_size=1", undefined, {}, server);
    } catch (e) {
      logout();
      throw e;
    }
    return "access key";
  }
  const { body } = await call<{ username: string; token: string }>("POST", "/auth/login", { username, password }, {}, server);
  sessionStorage.setItem(keyToken, body.token);
  sessionStorage.setItem(keyBase, server);
  return body.username;
}

const q = encodeURIComponent;

export const api = {
  listFlows: (token = "", size = 20) => call<Page<Flow>>("GET", `/v1.0/flows?page_size=${size}` + (token ? `&page_token=${q(token)}` : "")),
  getFlow: (id: string) => call<Flow>("GET", `/v1.0/flows/${q(id)}`),
  createFlow: (doc: string) => call<Flow>("POST", "/v1.0/flows", doc),
  updateFlow: (id: string, doc: string, etag: string) => call<Flow>("PUT", `/v1.0/flows/${q(id)}`, doc, etag ? { "If-Match": etag } : {}),
  deleteFlow: (id: string, etag: string) => call<void>("DELETE", `/v1.0/flows/${q(id)}`, undefined, etag ? { "If-Match": etag } : {}),
  validate: (doc: string) => call<ValidationReport>("POST", "/v1.0/flows/validate", doc),
  graph: (id: string, revision?: number) => call<Graph>("GET", `/v1.0/flows/${q(id)}/graph?format=json` + (revision ? `&revision=${revision}` : "")),
  revisions: (id: string, token = "") => call<Page<FlowRevision>>("GET", `/v1.0/flows/${q(id)}/revisions?page_size=50` + (token ? `&page_token=${q(token)}` : "")),
  revision: (id: string, n: number) => call<FlowRevision>("GET", `/v1.0/flows/${q(id)}/revisions/${n}`),
  restore: (id: string, n: number, etag: string) => call<Flow>("POST", `/v1.0/flows/${q(id)}/revisions/${n}/restore`, undefined, etag ? { "If-Match": etag } : {}),
  startCall: (flowId: string) => call<Activeflow>("POST", "/v1.0/activeflows", { flow_id: flowId }),
  next: (id: string, body: { current_action_id: string; step?: number; variables?: Record<string, string> }) =>
    call<Activeflow>("POST", `/v1.0/activeflows/${q(id)}/next`, body),
  stop: (id: string) => call<Activeflow>("POST", `/v1.0/activeflows/${q(id)}/stop`),
  listActiveflows: (token = "", size = 20) => call<Page<Activeflow>>("GET", `/v1.0/activeflows?page_size=${size}` + (token ? `&page_token=${q(token)}` : "")),
  getActiveflow: (id: string) => call<Activeflow>("GET", `/v1.0/activeflows/${q(id)}`),
  listCalls: (token = "", size = 20) => call<Page<Call>>("GET", `/v1.0/calls?page_size=${size}` + (token ? `&page_token=${q(token)}` : "")),
  getCall: (id: string) => call<Call>("GET", `/v1.0/calls/${q(id)}`),
  hangup: (id: string) => call<Call>("POST", `/v1.0/calls/${q(id)}/hangup`),
  listRecordings: (token = "", size = 20) => call<Page<Recording>>("GET", `/v1.0/recordings?page_size=${size}` + (token ? `&page_token=${q(token)}` : "")),
  getRecording: (id: string) => call<Recording>("GET", `/v1.0/recordings/${q(id)}`),
  stats: (id: string, revision: number, since: string, until: string) =>
    call<FlowStats>("GET", `/v1.0/flows/${q(id)}/stats?revision=${revision}` + (since ? `&since=${q(since)}` : "") + (until ? `&until=${q(until)}` : "")),
  listAccesskeys: (token = "") => call<Page<Accesskey>>("GET", "/v1.0/accesskeys?page_size=50" + (token ? `&page_token=${q(token)}` : "")),
  createAccesskey: (name: string, detail: string, expire: number) => call<Accesskey>("POST", "/v1.0/accesskeys", { name, detail, expire }),
  deleteAccesskey: (id: string) => call<Accesskey>("DELETE", `/v1.0/accesskeys/${q(id)}`),
  customer: () => call<Customer>("GET", "/v1.0/customer"),
  updateCustomer: (body: { webhook_uri: string; webhook_method: string }) => call<Customer>("PUT", "/v1.0/customer", body),
  rotateWebhookSecret: () => call<{ webhook_secret: string }>("POST", "/v1.0/customer/webhook_secret"),
  testWebhook: () => call<{ status_code: number; duration_ms: number; error: string }>("POST", "/v1.0/customer/webhook_test"),
  listDeliveries: (token = "") => call<Page<Delivery>>("GET", "/v1.0/events?page_size=20" + (token ? `&page_token=${q(token)}` : "")),
};

/** The API's description (openapi.json), for the action types and the schema of each one's options. */
export async function openapi(): Promise<Record<string, unknown>> {
  const res = await fetch(base() + "/openapi.json", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new ApiError(res.status, "HTTP_" + res.status, `the API's description: ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** VoIPbin's value of an id that is unset: flowbin answers it for a flow's on_complete_flow_id, an action's
 * next_id and an inline activeflow's flow_id. */
export const NIL_ID = "00000000-0000-0000-0000-000000000000";

/** Whether an id names something (neither absent nor the nil UUID). */
export function isSet(id?: string): id is string {
  return !!id && id !== NIL_ID;
}

/**
 * A recording's WAV file as an object URL for an audio element: fetched with the credential in a header, so that
 * it never lands in a URL (and in logs). The caller revokes it when done.
 */
export async function recordingAudio(id: string): Promise<string> {
  const token = sessionStorage.getItem(keyToken);
  const res = await fetch(base() + `/v1.0/recordingfiles/${q(id)}`, { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!res.ok) {
    let message = `the recording's file: ${res.status}`;
    try {
      message = (await res.json()).error.message;
    } catch {
      // not the error envelope: keep the status
    }
    throw new ApiError(res.status, "HTTP_" + res.status, message);
  }
  return URL.createObjectURL(await res.blob());
}

/** A flow as the body of a create or an update, pretty-printed for the editor: without the fields that say
 * nothing (a nil next_id or on_complete_flow_id, a flow action's null tm_execute), which the server fills in. */
export function flowDocument(f: { name: string; detail: string; actions: Action[]; on_complete_flow_id?: string }): string {
  const actions = f.actions.map((a) => {
    const { tm_execute: _, ...rest } = a as Action & { tm_execute?: unknown };
    if (!isSet(rest.next_id)) delete rest.next_id;
    return rest;
  });
  const doc: Record<string, unknown> = { name: f.name, detail: f.detail, actions };
  if (isSet(f.on_complete_flow_id)) doc.on_complete_flow_id = f.on_complete_flow_id;
  return JSON.stringify(doc, null, 2);
}
