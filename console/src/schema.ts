// The catalog of action types as the API describes it (openapi.json): each type, what it does, and the schema
// of its options, from which the console makes the form of an action.
import { openapi } from "./api";

export interface Field {
  type?: string;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  items?: Field;
  properties?: Record<string, Field>;
  additionalProperties?: boolean | Field;
  required?: string[];
  $ref?: string;
  example?: unknown;
}

export interface ActionKind {
  type: string;
  /** What it does, in a sentence. */
  description: string;
  options: Field;
}

let loading: Promise<ActionKind[]> | null = null;

/** The action types, in the API's order, with their option schemas; loaded once. */
export function catalog(): Promise<ActionKind[]> {
  loading ??= openapi().then(read).catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

function read(spec: Record<string, unknown>): ActionKind[] {
  const schemas = ((spec.components ?? {}) as { schemas?: Record<string, Field> }).schemas ?? {};
  const types = (schemas.ActionType?.enum ?? []) as string[];
  const byName = new Map(Object.entries(schemas).map(([k, v]) => [k.toLowerCase(), v]));
  return types.map((t) => {
    const options = byName.get("actionoption" + t.replace(/_/g, "").toLowerCase()) ?? { type: "object" };
    return { type: t, description: sentence(t, options.description ?? ""), options: resolve(options, schemas) };
  });
}

/** "Options of `talk`, which speaks text…" → "Speaks text…". */
function sentence(t: string, d: string): string {
  const s = d.replace(/\s+/g, " ").trim()
    .replace(new RegExp("^Options of `" + t + "`(?: \\([^)]*\\))?(?:, which|:)?\\s*"), "");
  const first = s.split(/(?<=\.)\s/)[0] ?? s;
  return first.charAt(0).toUpperCase() + first.slice(1);
}

/** Inlines the $refs of a schema (one level deep is all the option schemas use). */
function resolve(f: Field, schemas: Record<string, Field>, depth = 0): Field {
  if (depth > 4) return f;
  if (f.$ref) {
    const target = schemas[f.$ref.replace("#/components/schemas/", "")];
    return target ? resolve({ ...target, description: f.description ?? target.description }, schemas, depth + 1) : { type: "object" };
  }
  const out: Field = { ...f };
  if (f.properties) out.properties = Object.fromEntries(Object.entries(f.properties).map(([k, v]) => [k, resolve(v, schemas, depth + 1)]));
  if (f.items) out.items = resolve(f.items, schemas, depth + 1);
  return out;
}
