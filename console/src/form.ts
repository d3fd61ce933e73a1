// The form of one action, made from its type's option schema (openapi.yaml): required fields, enums as choices,
// durations with units, and every target picked from the actions by their names or on the graph.
import type { Action } from "./api";
import { h } from "./dom";
import type { Located } from "./editor";
import { type FlowDoc, actionName, ensureId, targetKeys } from "./model";
import type { ActionKind, Field } from "./schema";

export interface FormHost {
  /** Changes the document (the editor's text follows, with undo); rerender draws the form again after. */
  edit(change: (doc: FlowDoc) => void, rerender?: boolean): void;
  /** Waits for a click on a node of the graph (or Escape), then calls picked with its index. */
  pick(what: string, picked: (index: number) => void): void;
  move(index: number, delta: number): void;
  remove(index: number): void;
  reveal(pointer: string): void;
}

type Options = Record<string, unknown>;

function optionsOf(a: Action): Options {
  a.option ??= {};
  return a.option;
}

/** Sets (or, with undefined, removes) an option; an action left without options loses its empty object. */
function setOption(a: Action, key: string, value: unknown): void {
  const o = optionsOf(a);
  if (value === undefined) delete o[key];
  else o[key] = value;
  if (Object.keys(o).length === 0) delete a.option;
}

const units: [string, number][] = [["ms", 1], ["s", 1000], ["min", 60000]];

let serial = 0;
const fieldId = (what: string) => `f-${what.replace(/[^a-z0-9]+/gi, "-")}-${++serial}`;

/** The form of the action at index of doc. */
export function actionForm(doc: FlowDoc, index: number, kind: ActionKind | undefined, host: FormHost): HTMLElement {
  const a = doc.actions[index];
  const at = `/actions/${index}`;
  const form = h("form", { class: "action-form", "data-index": index, "aria-label": `options of action ${index}`, onsubmit: (e: Event) => e.preventDefault() });
  const edit = (change: (a: Action) => void) => host.edit((d) => change(d.actions[index]));

  const row = (label: string, pointer: string, control: HTMLElement, opts: { required?: boolean; help?: string; id?: string } = {}) => {
    const id = opts.id ?? control.id;
    const msgId = id + "-msg";
    if (!control.dataset.key && /^(INPUT|SELECT|TEXTAREA)$/.test(control.tagName)) control.dataset.key = pointer;
    control.setAttribute("aria-describedby", msgId + (opts.help ? " " + id + "-help" : ""));
    if (opts.required) control.setAttribute("aria-required", "true");
    return h("div", { class: "field", "data-pointer": pointer },
      h("label", { for: id }, label, opts.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
      control,
      opts.help ? h("p", { class: "help", id: id + "-help" }, opts.help) : null,
      h("p", { class: "field-error", id: msgId, role: "status" }));
  };

  // The target picker: a list of the actions by name, and a button to pick one on the graph.
  const target = (label: string, pointer: string, current: string | undefined, unset: string, set: (d: FlowDoc, id: string | undefined) => void, extra: Record<string, string> = {}) => {
    const id = fieldId(pointer);
    const select = h("select", { id, class: "target", "data-key": pointer, ...extra });
    select.append(h("option", { value: "" }, unset));
    let found = false;
    doc.actions.forEach((b, j) => {
      const selected = !!current && b.id === current;
      found ||= selected;
      select.append(h("option", { value: String(j), selected }, `${j}. ${actionName(b)}${b.name ? ` (${b.type})` : ""}`));
    });
    if (current && !found) select.append(h("option", { value: "missing", selected: true, disabled: true }, "(an action that is not in this flow)"));
    select.addEventListener("change", () => host.edit((d) => set(d, select.value === "" ? undefined : ensureId(d, Number(select.value))), true));
    const pick = h("button", { type: "button", class: "pick", "data-key": pointer + "|pick", ...extra, "aria-label": `Pick on graph: ${label}` }, "Pick on graph");
    pick.addEventListener("click", () => host.pick(label, (j) => host.edit((d) => set(d, ensureId(d, j)), true)));
    const wrap = h("div", { class: "target-row" }, select, pick);
    return row(label, pointer, wrap, { id });
  };

  const name = h("input", { id: fieldId("name"), class: "name", value: typeof a.name === "string" ? a.name : "", placeholder: actionName({ ...a, name: undefined }), autocomplete: "off" });
  name.addEventListener("input", () => edit((x) => {
    if (name.value) x.name = name.value;
    else delete x.name;
  }));
  form.append(
    h("h2", {}, `Action ${index}: ${a.type}`),
    kind ? h("p", { class: "hint type-description" }, kind.description) : h("p", { class: "error" }, `“${a.type}” is not an action type of this server.`),
    h("p", { class: "field-error action-error", role: "status", "data-pointer": at }),
    row("Name", at + "/name", name, { help: "Shown on the graph, in the lists and in the trace instead of what the action does." }));

  const o = (a.option ?? {}) as Options;
  const props = kind?.options.properties ?? {};
  const required = new Set(kind?.options.required ?? []);
  const keys = Object.keys(props).sort((x, y) => Number(required.has(y)) - Number(required.has(x)));
  for (const key of keys) {
    const f = props[key];
    const pointer = `${at}/option/${key}`;
    const label = key.replace(/_/g, " ");
    const help = f.description?.replace(/\s+/g, " ").trim();
    const req = required.has(key);
    if (targetKeys.includes(key)) {
      form.append(target(label, pointer, typeof o[key] === "string" ? (o[key] as string) : undefined, "(none)",
        (d, v) => setOption(d.actions[index], key, v), { "data-field": key }));
      continue;
    }
    if (key === "target_ids" && a.type === "branch") {
      form.append(branchTargets(index, o, host, target));
      continue;
    }
    form.append(control(key, f, o[key], req, label, pointer, help, (v) => edit((x) => setOption(x, key, v))));
  }
  // Options written that the schema does not know: kept, and editable as JSON.
  const unknown = Object.keys(o).filter((k) => !(k in props));
  if (unknown.length) form.append(h("p", { class: "hint" }, "Other options (kept as written): " + unknown.join(", ")));

  if (a.type !== "hangup" && a.type !== "stop") {
    form.append(target("next", `${at}/next_id`, a.next_id && a.next_id !== "00000000-0000-0000-0000-000000000000" ? a.next_id : undefined,
      "(the next action in the list)", (d, v) => {
        if (v) d.actions[index].next_id = v;
        else delete d.actions[index].next_id;
      }, { "data-field": "next_id" }));
  }
  form.append(h("div", { class: "form-buttons" },
    h("button", { type: "button", class: "move-up", disabled: index === 0, onclick: () => host.move(index, -1), title: "Alt+↑" }, "Move up"),
    h("button", { type: "button", class: "move-down", disabled: index === doc.actions.length - 1, onclick: () => host.move(index, 1), title: "Alt+↓" }, "Move down"),
    h("button", { type: "button", class: "danger delete-action", onclick: () => host.remove(index), title: "Delete" }, "Delete action"),
    h("button", { type: "button", class: "link", onclick: () => host.reveal(at) }, "Show in the JSON")));
  return form;
}

function control(key: string, f: Field, value: unknown, required: boolean, label: string, pointer: string, help: string | undefined, set: (v: unknown) => void): HTMLElement {
  const id = fieldId(pointer);
  const field = (el: HTMLElement) => {
    const msgId = id + "-msg";
    el.dataset.key = pointer;
    el.setAttribute("aria-describedby", msgId + (help ? " " + id + "-help" : ""));
    if (required) el.setAttribute("aria-required", "true");
    return h("div", { class: "field", "data-pointer": pointer, "data-field": key },
      h("label", { for: id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
      el, help ? h("p", { class: "help", id: id + "-help" }, help) : null, h("p", { class: "field-error", id: msgId, role: "status" }));
  };
  if (f.enum && f.enum.length) {
    const sel = h("select", { id, name: key });
    if (!required || value === undefined) sel.append(h("option", { value: "\u0000" }, "(not set)"));
    for (const v of f.enum) sel.append(h("option", { value: String(v), selected: value === v }, v === "" ? "(empty)" : String(v)));
    sel.addEventListener("change", () => set(sel.value === "\u0000" ? undefined : f.enum!.find((v) => String(v) === sel.value)));
    return field(sel);
  }
  if (f.type === "boolean") {
    const box = h("input", { id, name: key, type: "checkbox", checked: value === true });
    box.addEventListener("change", () => set(box.checked ? true : undefined));
    return field(box);
  }
  if (f.type === "integer" || f.type === "number") {
    const isDuration = /milliseconds/i.test(f.description ?? "");
    const n = typeof value === "number" ? value : undefined;
    if (isDuration) {
      const [unit, factor] = n === undefined ? units[1] : [...units].reverse().find(([, k]) => n % k === 0) ?? units[0];
      const num = h("input", { id, name: key, type: "number", min: 0, step: "any", value: n === undefined ? "" : String(n / factor), inputmode: "decimal" });
      const sel = h("select", { "aria-label": label + " unit", class: "unit" }, units.map(([u]) => h("option", { value: u, selected: u === unit }, u)));
      const commit = () => {
        const k = units.find(([u]) => u === sel.value)![1];
        set(num.value === "" ? undefined : Math.round(Number(num.value) * k));
      };
      num.addEventListener("input", commit);
      sel.addEventListener("change", commit);
      const wrap = field(num);
      wrap.querySelector("input")!.after(sel);
      wrap.classList.add("duration");
      return wrap;
    }
    const num = h("input", { id, name: key, type: "number", value: n === undefined ? (typeof value === "string" ? value : "") : String(n), min: f.minimum, max: f.maximum, step: f.type === "integer" ? 1 : "any" });
    num.addEventListener("input", () => set(num.value === "" ? undefined : Number(num.value)));
    return field(num);
  }
  if (f.type === "string" || (!f.type && !f.properties && !f.items)) {
    const long = key === "text" || key === "data" || key === "prompt";
    const input = long
      ? h("textarea", { id, name: key, rows: 3, placeholder: "text, or ${variable}" }, typeof value === "string" ? value : "")
      : h("input", { id, name: key, value: typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value), placeholder: f.pattern ? "" : "text, or ${variable}", autocomplete: "off" });
    input.addEventListener("input", () => set(input.value === "" ? undefined : input.value));
    return field(input);
  }
  // Objects and arrays: JSON, checked before it is written.
  const area = h("textarea", { id, name: key, rows: 3, class: "json", spellcheck: false }, value === undefined ? "" : JSON.stringify(value, null, 2));
  const wrap = field(area);
  area.addEventListener("change", () => {
    const msg = wrap.querySelector(".field-error")!;
    if (area.value.trim() === "") return set(undefined);
    try {
      set(JSON.parse(area.value));
      msg.textContent = "";
    } catch {
      msg.textContent = "Not JSON: write " + (f.type === "array" ? "[…]" : "{…}") + ".";
    }
  });
  return wrap;
}

type TargetFn = (label: string, pointer: string, current: string | undefined, unset: string, set: (d: FlowDoc, id: string | undefined) => void, extra?: Record<string, string>) => HTMLElement;

/** A branch's values, each with the action it leads to, and a button to add one. */
function branchTargets(index: number, o: Options, host: FormHost, target: TargetFn): HTMLElement {
  const map = (o.target_ids && typeof o.target_ids === "object" ? o.target_ids : {}) as Record<string, string>;
  const at = `/actions/${index}/option/target_ids`;
  const targets = (d: FlowDoc) => {
    const x = optionsOf(d.actions[index]);
    x.target_ids ??= {};
    return x.target_ids as Record<string, string>;
  };
  const box = h("fieldset", { class: "branch-values", "data-pointer": at }, h("legend", {}, "Values (the variable's value → the action to run)"));
  Object.entries(map).forEach(([value, to], n) => {
    const valueId = fieldId(at + "-value");
    const input = h("input", { id: valueId, class: "branch-value", value, size: 6, autocomplete: "off", "data-row": n, "data-key": `${at}/${value}|value` });
    input.addEventListener("change", () => host.edit((d) => {
      // Renaming a key keeps the order of the others.
      const old = targets(d);
      const renamed = Object.fromEntries(Object.entries(old).map(([k, v]) => [k === value ? input.value : k, v]));
      optionsOf(d.actions[index]).target_ids = renamed;
    }, true));
    const t = target(`the target of value ${value}`, `${at}/${value}`, typeof to === "string" ? to : undefined, "(choose an action)",
      (d, id) => {
        if (id) targets(d)[value] = id;
      }, { "data-value": value });
    t.classList.add("branch-target");
    const del = h("button", { type: "button", class: "remove-value", "aria-label": `Remove value ${value}`, onclick: () => host.edit((d) => delete targets(d)[value], true) }, "Remove");
    box.append(h("div", { class: "branch-row", "data-value": value }, h("label", { for: valueId }, "Value"), input, t, del));
  });
  const add = h("button", { type: "button", class: "add-value", "data-key": at + "|add" }, "Add a value");
  add.addEventListener("click", () => host.edit((d) => {
    const m = targets(d);
    let n = 1;
    while (String(n) in m) n++;
    m[String(n)] = "";
  }, true));
  box.append(add);
  return box;
}

/** Marks the problems of the action's fields in the form: the field of the longest pointer each falls under. */
export function markForm(form: HTMLElement, problems: Located[]): void {
  const fields = [...form.querySelectorAll<HTMLElement>("[data-pointer]")];
  for (const f of fields) {
    f.classList.remove("invalid", "warned");
    const msg = f.matches(".field-error") ? f : f.querySelector(":scope > .field-error");
    if (msg) msg.textContent = "";
    f.querySelector(":scope > input, :scope > select, :scope > textarea")?.removeAttribute("aria-invalid");
  }
  for (const p of problems) {
    const ptr = p.pointer ?? "";
    let best: HTMLElement | undefined;
    for (const f of fields) {
      const fp = f.dataset.pointer!;
      if ((ptr === fp || ptr.startsWith(fp + "/")) && (!best || fp.length > best.dataset.pointer!.length)) best = f;
    }
    if (!best) continue;
    best.classList.add(p.severity === "error" ? "invalid" : "warned");
    const msg = best.matches(".field-error") ? best : best.querySelector(":scope > .field-error");
    if (msg) msg.textContent = (msg.textContent ? msg.textContent + " " : "") + p.message;
    if (p.severity === "error") best.querySelector(":scope > input, :scope > select, :scope > textarea, :scope .target")?.setAttribute("aria-invalid", "true");
  }
}
