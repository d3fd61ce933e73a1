// A flow as the editor holds it: the document of the JSON editor, its graph drawn in the browser (so that the
// graph follows every change before it is saved), and the edits the graph and the forms make to it.
import { type Action, type Graph, type GraphEdge, type GraphNode, isSet } from "./api";

export interface FlowDoc {
  name: string;
  detail?: string;
  actions: Action[];
  on_complete_flow_id?: string;
  [key: string]: unknown;
}

/** The option keys that name another action: the targets a person picks on the graph. */
export const targetKeys = ["target_id", "default_target_id", "false_target_id"];

/** Action types after which an execution ends. */
const terminal = new Set(["hangup", "stop"]);
const conditions = new Set(["condition_variable", "condition_call_digits", "condition_call_status", "condition_datetime"]);

/** A random UUID (version 4): new actions get one, so that targets can name them before the flow is saved. */
export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  return v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
}

/** What an action does, in a few words, when it has no name. */
export function summary(a: Action): string {
  const o = (a.option ?? {}) as Record<string, unknown>;
  let detail = "";
  switch (a.type) {
    case "talk":
      detail = str(o, "text");
      break;
    case "play": {
      const urls = (o.stream_urls ?? o.stream_url) as unknown;
      if (Array.isArray(urls) && urls.length) detail = String(urls[0]).replace(/^.*\//, "");
      break;
    }
    case "branch":
      detail = "on " + (str(o, "variable") || "voipbin.call.digits");
      break;
    case "digits_receive":
      detail = o.length ? `${String(o.length)} digit${o.length === 1 ? "" : "s"}` : "";
      break;
    case "condition_variable":
      detail = [str(o, "variable"), str(o, "condition"), str(o, "value_string") || str(o, "value_number")].filter(Boolean).join(" ");
      break;
    case "variable_set":
      detail = str(o, "key");
      break;
    case "webhook_send":
    case "fetch":
      detail = str(o, "uri") || str(o, "event_url");
      break;
  }
  return detail ? `${a.type}: ${detail}` : a.type;
}

/** How people call an action: the name given to it, else what it does. */
export function actionName(a: Action): string {
  return (typeof a.name === "string" && a.name.trim()) || summary(a);
}

/** An action's id for the graph: its own, else its place (an action typed without an id). */
export function nodeId(a: Action, i: number): string {
  return a.id && a.id !== "" ? a.id : `#${i}`;
}

/** The graph of a list of actions, by the rules the server draws it with (flow/control.go): the continuation
 * (next_id, else the next in the list), goto's jump, each branch value and the default, a condition's true and
 * false; hangup and stop end. */
export function buildGraph(actions: Action[]): Graph {
  const ids = actions.map(nodeId);
  const idx = new Map<string, number>();
  ids.forEach((id, i) => idx.set(id, i));
  const edges: GraphEdge[] = [];
  const out: number[][] = actions.map(() => []);
  const add = (from: number, to: number, kind: string, label?: string) => {
    if (to < 0) return;
    edges.push({ from: ids[from], to: ids[to], kind, label });
    out[from].push(to);
  };
  actions.forEach((a, i) => {
    if (terminal.has(a.type)) return;
    let next = i + 1 < actions.length ? i + 1 : -1;
    let nextKind = "next";
    if (isSet(a.next_id)) {
      next = idx.get(a.next_id) ?? -1;
      nextKind = "next_id";
    }
    const o = (a.option ?? {}) as Record<string, unknown>;
    const ref = (v: unknown) => (typeof v === "string" && v !== "" ? idx.get(v) : undefined);
    if (a.type === "goto") {
      const t = ref(o.target_id);
      if (t !== undefined) add(i, t, "goto");
      add(i, next, nextKind);
    } else if (a.type === "branch") {
      const targets = (o.target_ids && typeof o.target_ids === "object" ? o.target_ids : {}) as Record<string, unknown>;
      for (const v of Object.keys(targets).sort()) {
        const t = ref(targets[v]);
        if (t !== undefined) add(i, t, "branch", v);
      }
      add(i, ref(o.default_target_id) ?? next, "default");
    } else if (conditions.has(a.type)) {
      add(i, next, "true");
      add(i, ref(o.false_target_id) ?? next, "false");
    } else add(i, next, nextKind);
  });
  const seen = actions.map(() => false);
  if (actions.length) {
    seen[0] = true;
    const stack = [0];
    while (stack.length) {
      for (const j of out[stack.pop()!]) {
        if (!seen[j]) {
          seen[j] = true;
          stack.push(j);
        }
      }
    }
  }
  const nodes: GraphNode[] = actions.map((a, i) => ({ id: ids[i], index: i, type: a.type, label: actionName(a), reachable: seen[i], name: a.name }));
  return { nodes, edges };
}

/** Every reference from one action to another: the path of the option (or next_id) and the id it names. */
export function references(a: Action): { path: string[]; id: string }[] {
  const out: { path: string[]; id: string }[] = [];
  if (isSet(a.next_id)) out.push({ path: ["next_id"], id: a.next_id });
  const o = (a.option ?? {}) as Record<string, unknown>;
  for (const k of targetKeys) if (typeof o[k] === "string" && o[k]) out.push({ path: ["option", k], id: o[k] as string });
  if (a.type === "branch" && o.target_ids && typeof o.target_ids === "object") {
    for (const [v, t] of Object.entries(o.target_ids as Record<string, unknown>)) if (typeof t === "string") out.push({ path: ["option", "target_ids", v], id: t });
  }
  return out;
}

/** Removes the action at index, and every reference to it (a target that named it is unset). */
export function deleteAction(doc: FlowDoc, index: number): void {
  const [gone] = doc.actions.splice(index, 1);
  if (!gone?.id) return;
  for (const a of doc.actions) {
    for (const r of references(a)) {
      if (r.id !== gone.id) continue;
      if (r.path[0] === "next_id") delete a.next_id;
      else if (r.path.length === 2) delete (a.option as Record<string, unknown>)[r.path[1]];
      else delete ((a.option as Record<string, unknown>).target_ids as Record<string, unknown>)[r.path[2]];
    }
  }
}

/** Moves the action at index by delta places (−1 up, +1 down); answers its new index. */
export function moveAction(doc: FlowDoc, index: number, delta: number): number {
  const to = index + delta;
  if (to < 0 || to >= doc.actions.length) return index;
  const [a] = doc.actions.splice(index, 1);
  doc.actions.splice(to, 0, a);
  return to;
}

/** Gives the action at index an id when it has none (a target must name it), and answers it. */
export function ensureId(doc: FlowDoc, index: number): string {
  const a = doc.actions[index];
  if (!a.id) a.id = newId();
  return a.id;
}

/** The text of a document as the editor shows it. */
export function docText(doc: FlowDoc): string {
  return JSON.stringify(doc, null, 2);
}

/** Parses the editor's text as a flow document, or answers null when it is not one. */
export function parseDoc(text: string): FlowDoc | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return null;
    const d = v as FlowDoc;
    if (!Array.isArray(d.actions) || d.actions.some((a) => !a || typeof a !== "object" || Array.isArray(a))) return null;
    return d;
  } catch {
    return null;
  }
}
