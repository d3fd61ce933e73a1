// The flowbin console: a single page, routed by the URL's hash.
import type { EditorView } from "@codemirror/view";
import type { MergeView } from "@codemirror/merge";
import { type Activeflow, type Action, ApiError, type Call, type Flow, type FlowRevision, type Recording, api, base, flowDocument, isSet, loggedIn, login, logout, recordingAudio } from "./api";
import { ask, bytes, debounce, h, when } from "./dom";
import { redo, redoDepth, undo, undoDepth } from "@codemirror/commands";
import { type Located, JSONSyntaxError, createEditor, diffView, locateProblems, replaceText, setText, showProblems, syntaxProblem } from "./editor";
import { type FormHost, actionForm, markForm } from "./form";
import { type Marks, drawGraph, takenEdges } from "./graph";
import { type FlowDoc, actionName, buildGraph, deleteAction, docText, moveAction, newId, parseDoc } from "./model";
import { type ActionKind, catalog } from "./schema";
import { settingsPage } from "./settings";
import { Phone, describe } from "./phone";
import { actionIndex } from "./pointer";
import { templates } from "./templates";

const app = document.getElementById("app")!;
let cleanup: (() => void) | null = null;

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

async function route(): Promise<void> {
  cleanup?.();
  cleanup = null;
  const path = location.hash.replace(/^#/, "") || "/flows";
  if (!loggedIn()) return loginPage();
  const m = /^\/(flows|activeflows|calls|recordings|settings)(?:\/([^/]+))?$/.exec(path);
  const main = h("main", { id: "main", tabindex: -1 });
  app.replaceChildren(header(m?.[1] ?? ""), main);
  try {
    if (!m) main.append(h("p", {}, "No such page. ", h("a", { href: "#/flows" }, "Flows")));
    else if (m[1] === "flows" && !m[2]) await flowList(main);
    else if (m[1] === "flows" && m[2] === "new") newFlow(main);
    else if (m[1] === "flows") await flowPage(main, m[2]);
    else if (m[1] === "calls" && !m[2]) await callList(main);
    else if (m[1] === "calls") await callPage(main, m[2]);
    else if (m[1] === "recordings") await recordingList(main);
    else if (m[1] === "settings") await settingsPage(main, m[2] ?? "accesskeys", go);
    else if (!m[2]) await activeflowList(main);
    else await activeflowPage(main, m[2]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return loginPage("Your session ended; log in again.");
    main.append(h("p", { class: "error", role: "alert" }, (e as Error).message));
  }
}

function header(section: string): HTMLElement {
  const link = (href: string, text: string, key: string) => h("a", { href, "aria-current": section === key ? "page" : undefined }, text);
  return h("header", { class: "top" },
    h("a", { class: "skip", href: "#main", onclick: (e: Event) => (e.preventDefault(), document.getElementById("main")?.focus()) }, "Skip to content"),
    h("span", { class: "brand" }, "flowbin"),
    h("nav", { "aria-label": "sections" }, link("#/flows", "Flows", "flows"), link("#/activeflows", "Activeflows", "activeflows"),
      link("#/calls", "Calls", "calls"), link("#/recordings", "Recordings", "recordings"), link("#/settings/accesskeys", "Settings", "settings"),
      h("a", { href: (base() || "") + "/docs", target: "_blank", rel: "noopener" }, "API docs")),
    h("span", { class: "server" }, base() || location.origin),
    h("button", { type: "button", class: "link", onclick: () => (logout(), go("#/login")) }, "Log out"));
}

function loginPage(note = ""): void {
  const server = h("input", { id: "server", name: "server", type: "url", placeholder: location.origin, value: base(), autocomplete: "url" });
  const user = h("input", { id: "username", name: "username", autocomplete: "username" });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password" });
  const key = h("input", { id: "accesskey", name: "accesskey", type: "password", autocomplete: "off" });
  const msg = h("p", { class: "error", role: "alert" }, note);
  const form = h("form", { class: "login", "aria-label": "log in" },
    h("h1", {}, "flowbin console"),
    h("label", { for: "username" }, "Username"), user,
    h("label", { for: "password" }, "Password"), pass,
    h("p", { class: "or" }, "or"),
    h("label", { for: "accesskey" }, "Access key"), key,
    h("details", {}, h("summary", {}, "Another server"), h("label", { for: "server" }, "Server URL (it must allow this page's origin by CORS)"), server),
    h("button", { type: "submit", class: "primary" }, "Log in"), msg,
    h("p", { class: "hint" }, "The token is kept for this tab only."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    try {
      await login(server.value, user.value, pass.value, key.value);
      go(location.hash && !location.hash.startsWith("#/login") ? location.hash : "#/flows");
    } catch (err) {
      msg.textContent = (err as Error).message;
    }
  });
  app.replaceChildren(h("main", { id: "main" }, form));
  user.focus();
}

// ---- flows

let flowPages: string[] = [""];

async function flowList(main: HTMLElement): Promise<void> {
  const token = flowPages[flowPages.length - 1];
  const { body } = await api.listFlows(token);
  const rows = body.result.map((f) =>
    h("tr", {},
      h("td", {}, h("a", { href: "#/flows/" + f.id, class: "flow-link" }, f.name || "(no name)")),
      h("td", { class: "num" }, String(f.actions.length)),
      h("td", { class: "num" }, bytes(new TextEncoder().encode(JSON.stringify(f.actions)).length)),
      h("td", { class: "num" }, String(f.revision)),
      h("td", {}, when(f.tm_update || f.tm_create))));
  const prev = h("button", { type: "button", disabled: flowPages.length === 1, onclick: () => (flowPages.pop(), go("#/flows")) }, "← Previous");
  const next = h("button", { type: "button", disabled: !body.next_page_token || body.result.length < 20, onclick: () => (flowPages.push(body.next_page_token), go("#/flows")) }, "Next →");
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Flows"), h("a", { class: "button primary", href: "#/flows/new" }, "New flow")),
    body.result.length === 0 && flowPages.length === 1
      ? h("p", { class: "empty" }, "No flows yet. ", h("a", { href: "#/flows/new" }, "Start from a template."))
      : h("table", { class: "list flows" },
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "num" }, "Actions"), h("th", { class: "num" }, "Size"), h("th", { class: "num" }, "Revision"), h("th", {}, "Last change"))),
        h("tbody", {}, rows)),
    h("div", { class: "pager" }, prev, next));
}

function newFlow(main: HTMLElement): void {
  // A template or a blank flow asks for a name first, and is created only when the person saves.
  const name = h("input", { id: "new-flow-name", name: "name", required: true, autocomplete: "off" });
  const msg = h("p", { class: "error", role: "alert" });
  const heading = h("h2", { id: "new-flow-title" });
  let chosen: { name: string; detail?: string; actions: unknown[] } = { name: "", actions: [] };
  const form = h("form", { method: "dialog", class: "new-flow-form" },
    heading,
    h("label", { for: "new-flow-name" }, "Name of the flow"), name, msg,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "submit", class: "primary new-flow-save" }, "Save"),
      h("button", { type: "button", class: "new-flow-cancel", onclick: () => dialog.close() }, "Cancel")));
  const dialog = h("dialog", { class: "new-flow", "aria-labelledby": "new-flow-title" }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!name.value.trim()) {
      msg.textContent = "Give the flow a name.";
      name.focus();
      return;
    }
    msg.textContent = "";
    try {
      const { body } = await api.createFlow(JSON.stringify({ ...chosen, name: name.value.trim() }));
      dialog.close();
      flowPages = [""];
      go("#/flows/" + body.id);
    } catch (err) {
      msg.textContent = (err as Error).message;
    }
  });
  const ask = (title: string, doc: { name: string; detail?: string; actions: unknown[] }) => {
    chosen = doc;
    heading.textContent = title;
    name.value = doc.name;
    msg.textContent = "";
    dialog.showModal();
    name.focus();
    name.select();
  };
  main.append(h("h1", {}, "New flow"), h("p", {}, "Start from a template or from nothing; you can change everything after."),
    h("div", { class: "templates" },
      ...templates.map((t) => h("button", { type: "button", class: "template", "data-template": t.key, onclick: () => ask(`New flow from “${t.title}”`, t.doc as { name: string; actions: unknown[] }) },
        h("strong", {}, t.title), h("span", {}, t.summary))),
      h("button", { type: "button", class: "template", "data-template": "blank", onclick: () => ask("New blank flow", { name: "", detail: "", actions: [] }) },
        h("strong", {}, "Blank"), h("span", {}, "No actions: add them on the graph."))),
    dialog);
}

async function flowPage(main: HTMLElement, id: string): Promise<void> {
  // The catalog (the API's description) comes while the page is drawn: the palette and the forms need it, the
  // graph and the editor do not.
  let kinds: ActionKind[] = [];
  let kindOf = new Map<string, ActionKind>();
  let catalogNote = "Loading the action types…";
  const got = await api.getFlow(id);
  void catalog().then((k) => {
    kinds = k;
    kindOf = new Map(k.map((x) => [x.type, x]));
  }, (e: Error) => {
    catalogNote = "The action types could not be loaded: " + e.message;
  }).then(() => {
    if (current === "add") palette();
    else if (current === "action" && !panel.contains(document.activeElement)) renderForm();
  });
  let flow: Flow = got.body;
  let etag = got.etag || `"r${flow.revision}"`;
  let text = flowDocument(flow);
  let doc: FlowDoc = parseDoc(text)!;
  let docValid = true;
  let problems: Located[] = [];
  let marks: Marks = {};
  let savedText = text;
  let checking = 0;
  let selected: number | undefined;
  let picking: { what: string; done: (index: number) => void } | null = null;
  let stats: { revision: number; actions: Action[]; marks: NonNullable<Marks["stats"]> } | null = null;
  let formLock = false;
  let formStale = false;
  let lastDrawn = "";

  const title = h("h1", { class: "flow-name" });
  const rev = h("span", { class: "revision" });
  const state = h("span", { class: "state", "aria-live": "polite" });
  const saveBtn = h("button", { type: "button", class: "primary save", title: "Ctrl+S" }, "Save");
  const undoBtn = h("button", { type: "button", class: "undo", title: "Ctrl+Z" }, "Undo");
  const redoBtn = h("button", { type: "button", class: "redo", title: "Ctrl+Shift+Z" }, "Redo");
  const graphHost = h("div", { class: "graph", role: "region", "aria-label": "graph of the flow" });
  const graphNote = h("p", { class: "graph-note", "aria-live": "polite" });
  const editorHost = h("div", { class: "editor" });
  const problemList = h("ul", { class: "problems", "aria-label": "problems" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "side panel" });
  const panel = h("div", { class: "panel", role: "tabpanel", "aria-labelledby": "tab-problems" });
  const dialog = h("dialog", { class: "diff-dialog", "aria-label": "differences" });
  let merge: MergeView | null = null;
  dialog.addEventListener("close", () => {
    merge?.destroy();
    merge = null;
  });

  const refreshHeader = () => {
    title.textContent = flow.name || "(no name)";
    rev.textContent = `revision ${flow.revision} · ${when(flow.tm_update || flow.tm_create)}`;
    document.title = `${flow.name} · flowbin console`;
  };
  const redraw = () => {
    const actions = stats ? stats.actions : doc.actions;
    const g = buildGraph(actions);
    const at = (sev: string) => new Set(stats ? [] : problems.filter((p) => p.severity === sev).map((p) => actionIndex(p.pointer ?? "")).filter((i) => i >= 0));
    const all: Marks = { ...marks, errors: at("error"), warnings: at("warning"), selected: stats ? undefined : selected, stats: stats?.marks };
    // Drawn again only when something drawn changed: a node a person is about to click stays the same node.
    const drawn = JSON.stringify([g, actions.map((a) => a.option?.loop_count), all, [all.errors, all.warnings, all.visited, all.taken].map((x) => [...(x ?? [])]),
      stats ? [...stats.marks.nodes, ...stats.marks.edges] : null]);
    if (drawn !== lastDrawn) {
      lastDrawn = drawn;
      drawGraph(graphHost, g, actions, all, nodeClicked, stats ? {} : { onDelete: remove, onMove: move });
    }
    graphHost.classList.toggle("picking", !!picking);
    graphNote.textContent = picking ? `Pick ${picking.what}: click an action (or Tab to it and press Enter); Escape cancels.`
      : stats ? `Counts of revision ${stats.revision}` + (stats.revision !== flow.revision ? ` (the flow is at revision ${flow.revision})` : "")
        : (docValid ? "The flow as edited" : "The JSON does not parse: the graph shows it as it last did") + (text !== savedText ? " · unsaved changes" : "");
    undoBtn.disabled = undoDepth(view.state) === 0;
    redoBtn.disabled = redoDepth(view.state) === 0;
  };
  const redrawSoon = debounce(120, () => {
    redraw();
    if (formStale) {
      formStale = false;
      renderForm();
    }
  });
  const setState = (s: string, cls = "") => {
    state.textContent = s;
    state.className = "state " + cls;
  };

  // -- live checking
  const check = async () => {
    const mine = ++checking;
    const now = text;
    let found: Located[];
    try {
      found = locateProblems(now, [], []);
    } catch (e) {
      if (!(e instanceof JSONSyntaxError)) throw e;
      found = [syntaxProblem(now, e)];
      return report(found, mine);
    }
    try {
      const { body } = await api.validate(now);
      found = locateProblems(now, body.errors, body.warnings);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) {
        if (mine === checking) setState("Could not check: " + (e as Error).message, "bad");
        return;
      }
      found = locateProblems(now, e.details.length ? e.details : [{ pointer: "", reason: e.reason, message: e.message }], []);
    }
    report(found, mine);
  };
  const report = (found: Located[], mine: number) => {
    if (mine !== checking) return; // a later check is on its way
    problems = found;
    showProblems(view, problems);
    const errors = problems.filter((p) => p.severity === "error").length;
    const warnings = problems.length - errors;
    setState(errors ? `${errors} error${errors > 1 ? "s" : ""}, ${warnings} warning${warnings === 1 ? "" : "s"}` :
      (text === savedText ? "Saved" : "Unsaved changes") + (warnings ? ` · ${warnings} warning${warnings === 1 ? "" : "s"}` : " · valid"), errors ? "bad" : "ok");
    problemList.replaceChildren(...problems.map((p) =>
      h("li", { class: "problem " + p.severity, "data-line": p.line, "data-pointer": p.pointer ?? "" },
        h("button", { type: "button", class: "link", onclick: () => reveal(p.from, p.to) }, `line ${p.line}`), " ",
        h("span", { class: "sev" }, p.severity), " ", h("code", {}, p.reason), " ", p.message)));
    if (!problems.length) problemList.append(h("li", { class: "none" }, "No problems."));
    const form = panel.querySelector<HTMLElement>(".action-form");
    if (form) markForm(form, problems);
    redraw();
  };
  const checkSoon = debounce(350, () => void check());

  const view: EditorView = createEditor(editorHost, text, (t) => {
    text = t;
    const d = parseDoc(t);
    docValid = !!d;
    if (d) doc = d;
    if (!formLock) formStale = true;
    setState("Checking…");
    checkSoon();
    redrawSoon();
  }, () => void save());
  const reveal = (from: number, to: number) => {
    view.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true });
    view.focus();
  };
  const revealPointer = (pointer: string) => {
    try {
      const at = locateProblems(text, [{ pointer, reason: "", message: "" }], [])[0];
      reveal(at.from, at.from);
    } catch {
      view.focus();
    }
  };

  // -- edits from the graph and the forms: they change the document, and the editor's text follows
  const edit = (change: (d: FlowDoc) => void, rerender = false, isolate = rerender) => {
    if (!docValid) {
      setState("The JSON does not parse: fix it in the editor before editing on the graph", "bad");
      return false;
    }
    const d = structuredClone(doc);
    change(d);
    // The form is drawn again here when asked, not after the editor's change: a second drawing would replace
    // the control a person is about to use.
    formLock = true;
    replaceText(view, docText(d), isolate);
    formLock = false;
    redraw();
    if (rerender) renderForm();
    return true;
  };
  const focusNode = (i: number) => (graphHost.querySelector(`.node[data-index="${i}"]`) as SVGGElement | null)?.focus();
  function insert(type: string): void {
    const at = selected !== undefined && selected < doc.actions.length ? selected + 1 : doc.actions.length;
    if (!edit((d) => d.actions.splice(at, 0, { id: newId(), type }), false, true)) return;
    select(at);
    panel.querySelector<HTMLElement>(".action-form input, .action-form select, .action-form textarea")?.focus();
  }
  function remove(index: number): void {
    const inGraph = graphHost.contains(document.activeElement);
    if (!edit((d) => deleteAction(d, index), false, true)) return;
    selected = doc.actions.length ? Math.min(index, doc.actions.length - 1) : undefined;
    if (selected !== undefined) select(selected);
    else openTab("add");
    if (inGraph && selected !== undefined) focusNode(selected);
  }
  function move(index: number, delta: number): void {
    const inGraph = graphHost.contains(document.activeElement);
    let to = index;
    if (!edit((d) => (to = moveAction(d, index, delta)), false, true)) return;
    select(to);
    if (inGraph) focusNode(to);
  }
  function nodeClicked(index: number): void {
    if (stats) return;
    if (picking) {
      const p = picking;
      picking = null;
      p.done(index);
      return;
    }
    select(index);
  }
  const formHost: FormHost = {
    edit: (change, rerender) => void edit(change, rerender),
    pick: (what, done) => {
      const back = (document.activeElement as HTMLElement | null)?.dataset.key;
      picking = {
        what, done: (i) => {
          done(i);
          const again = back ? panel.querySelector<HTMLElement>(`[data-key="${CSS.escape(back)}"]`) : null;
          again?.focus();
        },
      };
      redraw();
      focusNode(selected ?? 0);
    },
    move, remove, reveal: revealPointer,
  };

  // -- selection: the action's form
  function select(index: number): void {
    selected = index;
    showTab("action");
    renderForm();
    redraw();
  }
  function renderForm(): void {
    if (current !== "action") return;
    const back = (document.activeElement as HTMLElement | null)?.dataset.key;
    if (!docValid) return void panel.replaceChildren(h("p", { class: "hint" }, "The JSON does not parse now: fix it in the editor, then edit the action here."));
    if (selected === undefined || selected >= doc.actions.length) {
      selected = undefined;
      return void panel.replaceChildren(h("p", { class: "hint" }, "Click an action on the graph (or Tab to it and press Enter) to edit it; add one from “Add action”."));
    }
    const form = actionForm(doc, selected, kindOf.get(doc.actions[selected].type), formHost);
    panel.replaceChildren(form);
    markForm(form, problems);
    if (back && panel.contains(document.activeElement) === false) panel.querySelector<HTMLElement>(`[data-key="${CSS.escape(back)}"]`)?.focus();
  }

  // -- the palette: every action type of the catalog, searchable, each with what it does
  function palette(): void {
    const search = h("input", { id: "palette-search", type: "search", placeholder: "answer, talk, digits…", autocomplete: "off" });
    const list = h("ul", { class: "palette", "aria-label": "action types" });
    const where = () => selected !== undefined && selected < doc.actions.length ? `after ${selected}. ${actionName(doc.actions[selected])}` : "at the end";
    const note = h("p", { class: "hint" }, `Adds the action ${where()}.`);
    const fill = () => {
      const q = search.value.trim().toLowerCase();
      list.replaceChildren(...kinds.filter((k) => !q || k.type.includes(q.replace(/\s+/g, "_")) || k.description.toLowerCase().includes(q)).map((k) =>
        h("li", {}, h("button", { type: "button", class: "palette-item", "data-type": k.type, onclick: () => insert(k.type) },
          h("strong", {}, k.type), h("span", {}, k.description)))));
      if (!list.children.length) list.append(h("li", { class: "empty" }, kinds.length ? "No action type matches." : catalogNote));
    };
    search.addEventListener("input", fill);
    search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        list.querySelector<HTMLButtonElement>(".palette-item")?.click();
      }
    });
    fill();
    panel.replaceChildren(h("h2", {}, "Add an action"), h("label", { for: "palette-search" }, "Search the action types"), search, note, list);
  }

  // -- save, with If-Match; a 412 shows what changed meanwhile
  async function save(): Promise<void> {
    setState("Saving…");
    try {
      const res = await api.updateFlow(id, text, etag);
      await loaded(res.body, res.etag);
      setState("Saved revision " + flow.revision, "ok");
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) return conflict();
      if (e instanceof ApiError && e.status === 400) {
        const found = (() => {
          try {
            return locateProblems(text, e.details, []);
          } catch {
            return [];
          }
        })();
        if (found.length) {
          report(found, ++checking);
          setState("Not saved: " + e.message, "bad");
          return;
        }
      }
      setState("Not saved: " + (e as Error).message, "bad");
    }
  }
  async function loaded(f: Flow, tag: string): Promise<void> {
    flow = f;
    etag = tag || `"r${f.revision}"`;
    text = savedText = flowDocument(f);
    setText(view, text);
    refreshHeader();
    marks = {};
    await check();
    renderForm();
    if (current === "revisions") void revisionsTab();
  }
  async function conflict(): Promise<void> {
    const now = await api.getFlow(id);
    const theirs = flowDocument(now.body);
    let who = "";
    try {
      const r = (await api.revision(id, now.body.revision)).body;
      who = ` by ${r.author.name} (${r.author.type}) at ${when(r.tm_create)}`;
    } catch {
      // the author is a nicety
    }
    setState(`Not saved: the flow changed meanwhile (revision ${now.body.revision})`, "bad");
    const host = h("div", { class: "merge" });
    const mine = text;
    dialog.replaceChildren(
      h("h2", {}, "Someone else saved this flow meanwhile"),
      h("p", { class: "conflict-summary" }, `You edited revision ${flow.revision}; the flow is now at revision ${now.body.revision}${who}. Nothing was overwritten. Left: the flow as it is now. Right: your text.`),
      host,
      h("div", { class: "dialog-buttons" },
        h("button", { type: "button", class: "take-theirs", onclick: () => (dialog.close(), void loaded(now.body, now.etag)) }, "Discard mine, load theirs"),
        h("button", { type: "button", class: "danger overwrite", onclick: async () => {
          dialog.close();
          etag = now.etag || `"r${now.body.revision}"`;
          text = mine;
          await save();
        } }, "Save mine over theirs"),
        h("button", { type: "button", onclick: () => dialog.close() }, "Keep editing")));
    dialog.showModal();
    merge = diffView(host, theirs, mine);
  }

  // -- side panel tabs
  let current = "problems";
  let phone: Phone | null = null;
  const tabNames: [string, string][] = [["problems", "Problems"], ["action", "Action"], ["add", "Add action"], ["stats", "Stats"], ["revisions", "Revisions"], ["call", "Try a call"]];
  const tabButtons = new Map<string, HTMLButtonElement>();
  for (const [key, label] of tabNames) {
    const b = h("button", { type: "button", role: "tab", id: "tab-" + key, "aria-selected": "false", "aria-controls": "side-panel", onclick: () => openTab(key) }, label);
    tabButtons.set(key, b);
    tabs.append(b);
  }
  panel.id = "side-panel";
  tabs.addEventListener("keydown", (e) => {
    const order = tabNames.map((t) => t[0]);
    const i = order.indexOf(current);
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      const next = order[(i + (e.key === "ArrowRight" ? 1 : order.length - 1)) % order.length];
      openTab(next);
      tabButtons.get(next)!.focus();
    }
  });
  function showTab(key: string): void {
    if (current === "stats" && key !== "stats" && stats) {
      stats = null;
      redraw();
    }
    current = key;
    panel.setAttribute("aria-labelledby", "tab-" + key);
    for (const [k, b] of tabButtons) {
      b.setAttribute("aria-selected", String(k === key));
      b.tabIndex = k === key ? 0 : -1;
    }
  }
  function openTab(key: string): void {
    showTab(key);
    if (key === "problems") panel.replaceChildren(h("h2", {}, "Problems"), problemList);
    else if (key === "action") renderForm();
    else if (key === "add") palette();
    else if (key === "stats") void statsTab();
    else if (key === "revisions") void revisionsTab();
    else if (key === "call") {
      phone ??= new Phone(() => id, () => `(revision ${flow.revision}${text !== savedText ? "; your unsaved changes are not in it" : ""})`, {
        onUpdate: (af: Activeflow) => {
          const ids = af.executed_actions.map((a) => a.id);
          marks = { ...marks, visited: new Set(ids), current: af.status === "running" ? af.current_action?.id : undefined, taken: takenEdges(ids) };
          redraw();
        },
      });
      panel.replaceChildren(h("h2", {}, "Try a call"), phone.root);
    }
  }

  // -- stats: how executions of a revision went, in a time window, drawn on the graph
  async function statsTab(): Promise<void> {
    const list = (await api.revisions(id)).body.result;
    if (current !== "stats") return;
    const revSel = h("select", { id: "stats-revision" }, list.map((r) => h("option", { value: String(r.revision), selected: r.revision === flow.revision }, `revision ${r.revision} · ${when(r.tm_create)}`)));
    const since = h("input", { id: "stats-since", type: "datetime-local" });
    const until = h("input", { id: "stats-until", type: "datetime-local" });
    const out = h("div", { class: "stats-summary", "aria-live": "polite" });
    const iso = (v: string) => (v ? new Date(v).toISOString() : "");
    const show = async () => {
      out.textContent = "Counting…";
      const n = Number(revSel.value);
      try {
        const [s, r] = await Promise.all([api.stats(id, n, iso(since.value), iso(until.value)), api.revision(id, n)]);
        if (current !== "stats") return;
        const body = s.body;
        const nodes = new Map<string, string>();
        for (const a of body.actions) {
          const parts = [`in ${a.entered}`];
          if (a.ended) parts.push(`ended ${a.ended}`);
          if (a.median_ms !== null) parts.push(duration(a.median_ms));
          nodes.set(a.action_id, parts.join(" · "));
        }
        stats = { revision: n, actions: r.body.actions, marks: { nodes, edges: new Map(body.edges.map((e) => [e.from + ">" + e.to, e.count])) } };
        redraw();
        const names = new Map(r.body.actions.map((a) => [a.id, actionName(a)]));
        out.replaceChildren(
          h("p", { class: "stats-total" }, `${body.executions} execution${body.executions === 1 ? "" : "s"}, ${body.running} running`),
          h("p", { class: "hint" }, `From ${when(body.since)} until ${when(body.until)}`),
          h("p", {}, "Ended: " + (Object.entries(body.ends).map(([k, v]) => `${k} ${v}`).join(", ") || "none")),
          h("table", { class: "list stats" },
            h("thead", {}, h("tr", {}, h("th", {}, "Action"), h("th", { class: "num" }, "Entered"), h("th", { class: "num" }, "Ended"), h("th", { class: "num" }, "Median"))),
            h("tbody", {}, body.actions.map((a) => h("tr", { "data-action": a.action_id },
              h("td", {}, names.get(a.action_id) ?? "(an action of another flow)"), h("td", { class: "num" }, String(a.entered)),
              h("td", { class: "num" }, String(a.ended)), h("td", { class: "num" }, a.median_ms === null ? "—" : duration(a.median_ms)))))));
      } catch (e) {
        out.replaceChildren(h("p", { class: "error", role: "alert" }, "No counts: " + (e as Error).message));
      }
    };
    const form = h("form", { class: "stats-form", onsubmit: (e: Event) => (e.preventDefault(), void show()) },
      h("label", { for: "stats-revision" }, "Revision"), revSel,
      h("label", { for: "stats-since" }, "From (local time; empty: a week before Until)"), since,
      h("label", { for: "stats-until" }, "Until (empty: now)"), until,
      h("button", { type: "submit", class: "primary stats-show" }, "Show the counts"));
    panel.replaceChildren(h("h2", {}, "How calls went"), form, out);
    await show();
  }

  // -- revisions: history, a diff of any two, restore
  async function revisionsTab(): Promise<void> {
    const list = (await api.revisions(id)).body.result;
    if (current !== "revisions") return;
    const picked: number[] = [];
    const compare = h("button", { type: "button", class: "compare", disabled: true }, "Compare the two selected");
    const note = h("p", { class: "hint", "aria-live": "polite" });
    const rows = list.map((r) => {
      const box = h("input", { type: "checkbox", "aria-label": `select revision ${r.revision}`, "data-revision": r.revision });
      box.addEventListener("change", () => {
        const i = picked.indexOf(r.revision);
        if (box.checked && i < 0) picked.push(r.revision);
        if (!box.checked && i >= 0) picked.splice(i, 1);
        while (picked.length > 2) {
          const old = picked.shift()!;
          (panel.querySelector(`input[data-revision="${old}"]`) as HTMLInputElement).checked = false;
        }
        compare.disabled = picked.length !== 2;
      });
      return h("li", { class: "revision-row", "data-revision": r.revision },
        box, " ", h("strong", {}, `r${r.revision}`), " ", h("span", {}, `${r.author.name} (${r.author.type})`), " ",
        h("span", { class: "when" }, when(r.tm_create)),
        r.revision === flow.revision ? h("span", { class: "tag" }, "current") :
          h("button", { type: "button", class: "restore", onclick: () => void restore(r, note) }, "Restore"));
    });
    compare.addEventListener("click", async () => {
      const [a, b] = [...picked].sort((x, y) => x - y);
      const [ra, rb] = await Promise.all([api.revision(id, a), api.revision(id, b)]);
      const host = h("div", { class: "merge" });
      dialog.replaceChildren(h("h2", {}, `Revision ${a} (left) and ${b} (right)`), host,
        h("div", { class: "dialog-buttons" }, h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
      dialog.showModal();
      merge = diffView(host, flowDocument(ra.body), flowDocument(rb.body));
    });
    panel.replaceChildren(h("h2", {}, "Revisions"), h("ol", { class: "revisions" }, rows), compare, note);
  }
  async function restore(r: FlowRevision, note: HTMLElement): Promise<void> {
    if (text !== savedText && !(await ask("The editor has unsaved changes; restoring replaces them. Restore?", "Restore"))) return;
    try {
      const res = await api.restore(id, r.revision, etag);
      await loaded(res.body, res.etag);
      setState(`Restored revision ${r.revision} as revision ${res.body.revision}`, "ok");
    } catch (e) {
      note.textContent = e instanceof ApiError && e.status === 412
        ? "The flow changed meanwhile; reload it before restoring." : "Not restored: " + (e as Error).message;
    }
  }

  saveBtn.addEventListener("click", () => void save());
  undoBtn.addEventListener("click", () => undo(view));
  redoBtn.addEventListener("click", () => redo(view));
  main.classList.add("flow-page");
  main.append(
    h("div", { class: "bar" }, title, rev, state, h("span", { class: "grow" }), undoBtn, redoBtn, saveBtn,
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!(await ask(`Delete the flow “${flow.name}”?`, "Delete the flow"))) return;
        try {
          await api.deleteFlow(id, etag);
          go("#/flows");
        } catch (e) {
          setState(e instanceof ApiError && e.status === 412
            ? "The flow changed meanwhile; reload it before deleting it." : "Not deleted: " + (e as Error).message, "bad");
        }
      } }, "Delete")),
    h("div", { class: "workspace" },
      h("section", { class: "graph-pane", "aria-label": "graph" }, graphNote, graphHost),
      h("section", { class: "editor-pane", "aria-label": "JSON editor" }, editorHost),
      h("aside", { class: "side", "aria-label": "details" }, tabs, panel)),
    dialog);
  refreshHeader();
  openTab("problems");
  redraw();
  // Ctrl+S saves from anywhere on the page; Ctrl+Z and Ctrl+Shift+Z (or Ctrl+Y) undo and redo outside the
  // editor and the form's own text fields (which have their own); Escape stops picking a target.
  const keys = (e: KeyboardEvent) => {
    const inEditor = !!(e.target as HTMLElement).closest(".cm-editor");
    const inText = !!(e.target as HTMLElement).closest("input, textarea");
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key.toLowerCase() === "s" && !inEditor) {
      e.preventDefault();
      void save();
    } else if (mod && !inEditor && !inText && (e.key.toLowerCase() === "z" || e.key.toLowerCase() === "y")) {
      e.preventDefault();
      if (e.shiftKey || e.key.toLowerCase() === "y") redo(view);
      else undo(view);
    } else if (e.key === "Escape" && picking) {
      e.preventDefault();
      picking = null;
      redraw();
      renderForm();
    }
  };
  document.addEventListener("keydown", keys);
  cleanup = () => {
    document.removeEventListener("keydown", keys);
    phone?.dispose();
    view.destroy();
  };
  performance.mark("flow-interactive");
  await check();
}

/** A duration in milliseconds for people. */
function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`;
}

// ---- activeflows

let afPages: string[] = [""];

async function activeflowList(main: HTMLElement): Promise<void> {
  const { body } = await api.listActiveflows(afPages[afPages.length - 1]);
  const names = new Map<string, string>();
  await Promise.all([...new Set(body.result.map((a) => a.flow_id).filter(isSet))].map(async (fid) => {
    try {
      names.set(fid, (await api.getFlow(fid)).body.name);
    } catch {
      names.set(fid, "(deleted flow)");
    }
  }));
  const rows = body.result.map((a) => h("tr", { class: "status-" + a.status },
    h("td", {}, h("a", { href: "#/activeflows/" + a.id, class: "af-link" }, a.id.slice(0, 8) + "…")),
    h("td", {}, isSet(a.flow_id) ? `${names.get(a.flow_id)} (r${a.flow_revision})` : "inline actions"),
    h("td", {}, a.status), h("td", {}, a.end_reason || "—"),
    h("td", { class: "num" }, String(a.executed_actions.length)),
    h("td", {}, when(a.tm_create))));
  main.append(h("div", { class: "bar" }, h("h1", {}, "Activeflows")),
    body.result.length === 0 && afPages.length === 1 ? h("p", { class: "empty" }, "No executions yet: try a call from a flow's page.") :
      h("table", { class: "list activeflows" },
        h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Flow"), h("th", {}, "Status"), h("th", {}, "End reason"), h("th", { class: "num" }, "Actions run"), h("th", {}, "Started"))),
        h("tbody", {}, rows)),
    h("div", { class: "pager" },
      h("button", { type: "button", disabled: afPages.length === 1, onclick: () => (afPages.pop(), go("#/activeflows")) }, "← Previous"),
      h("button", { type: "button", disabled: !body.next_page_token || body.result.length < 20, onclick: () => (afPages.push(body.next_page_token), go("#/activeflows")) }, "Next →")));
}

async function activeflowPage(main: HTMLElement, id: string): Promise<void> {
  const af = (await api.getActiveflow(id)).body;
  const graphHost = h("div", { class: "graph" });
  const ids = af.executed_actions.map((a) => a.id);
  if (isSet(af.flow_id) && af.flow_revision) {
    try {
      const [g, r] = await Promise.all([api.graph(af.flow_id, af.flow_revision), api.revision(af.flow_id, af.flow_revision)]);
      drawGraph(graphHost, g.body, r.body.actions, { visited: new Set(ids), taken: takenEdges(ids), current: af.status === "running" ? af.current_action?.id : undefined }, () => {});
    } catch (e) {
      graphHost.append(h("p", { class: "empty" }, "The graph is not available: " + (e as Error).message));
    }
  } else graphHost.append(h("p", { class: "empty" }, "This execution ran inline actions, not a stored flow."));
  main.classList.add("af-page");
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Activeflow " + af.id.slice(0, 8) + "…"),
      h("span", { class: "state" }, af.status + (af.end_reason ? ": " + af.end_reason : "")), h("span", { class: "grow" }),
      isSet(af.flow_id) ? h("a", { class: "button", href: "#/flows/" + af.flow_id }, "Open the flow") : null,
      af.status === "running" ? h("button", { type: "button", class: "danger", onclick: async () => (await api.stop(af.id), go(location.hash)) }, "Stop") : null),
    h("div", { class: "af-layout" },
      h("section", { class: "graph-pane", "aria-label": "path on the graph" },
        h("p", { class: "graph-note" }, isSet(af.flow_id) ? `Revision ${af.flow_revision} of the flow, as this execution ran it` : ""), graphHost),
      h("section", { class: "side" }, h("h2", {}, "Trace"),
        h("ol", { class: "trace" }, af.executed_actions.map((a, i) =>
          h("li", { class: "trace-item" }, h("span", { class: "trace-type" }, `${a.step ?? i + 1}. ${a.name ? `${a.name} (${a.type})` : a.type}`), " ", a.decision ? a.decision.reason : describe(a), " ", h("span", { class: "when" }, when(a.tm_execute))))),
        h("h2", {}, "Variables"), h("pre", { class: "options" }, JSON.stringify(af.variables, null, 2)))));
}

// ---- calls and recordings

let callPages: string[] = [""];
let recordingPages: string[] = [""];

/** Who is on the line, for people: the display name and the address. */
function party(a: { target: string; target_name: string }): string {
  return a.target_name ? `${a.target_name} <${a.target}>` : a.target;
}

function hangupText(c: Call): string {
  return c.hangup_by ? `${c.hangup_by} (${c.hangup_reason || "—"})` : "—";
}

async function callList(main: HTMLElement): Promise<void> {
  const { body } = await api.listCalls(callPages[callPages.length - 1]);
  const rows = body.result.map((c) => h("tr", { class: "status-" + c.status },
    h("td", {}, h("a", { href: "#/calls/" + c.id, class: "call-link" }, c.id.slice(0, 8) + "…")),
    h("td", {}, c.direction), h("td", {}, party(c.source)), h("td", {}, party(c.destination)),
    h("td", { class: "call-status" }, c.status), h("td", {}, hangupText(c)),
    h("td", { class: "num" }, String(c.recording_ids.length)), h("td", {}, when(c.tm_create))));
  main.append(h("div", { class: "bar" }, h("h1", {}, "Calls")),
    body.result.length === 0 && callPages.length === 1 ? h("p", { class: "empty" }, "No calls yet: call a number or a flow's direct hash over SIP, or place one with POST /v1.0/calls.") :
      h("table", { class: "list calls" },
        h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Direction"), h("th", {}, "From"), h("th", {}, "To"), h("th", {}, "Status"), h("th", {}, "Hung up by"), h("th", { class: "num" }, "Recordings"), h("th", {}, "Started"))),
        h("tbody", {}, rows)),
    h("div", { class: "pager" },
      h("button", { type: "button", disabled: callPages.length === 1, onclick: () => (callPages.pop(), go("#/calls")) }, "← Previous"),
      h("button", { type: "button", disabled: !body.next_page_token || body.result.length < 20, onclick: () => (callPages.push(body.next_page_token), go("#/calls")) }, "Next →")));
}

/** A player of a recording: its file is fetched when asked for, with the credential in a header. */
function player(r: Recording): HTMLElement {
  const audio = h("audio", { controls: true, preload: "none", class: "recording-audio", "data-recording": r.id, "aria-label": "recording " + r.id });
  const note = h("span", { class: "error", role: "alert" });
  const load = h("button", { type: "button", class: "play", "data-recording": r.id, disabled: r.status !== "ended" }, r.status === "ended" ? "Load and play" : "Recording…");
  load.addEventListener("click", async () => {
    load.disabled = true;
    try {
      const url = await recordingAudio(r.id);
      const prev = cleanup;
      cleanup = () => (URL.revokeObjectURL(url), prev?.());
      audio.src = url;
      load.remove();
      await audio.play().catch(() => undefined); // autoplay may be refused: the controls are there
    } catch (e) {
      note.textContent = (e as Error).message;
      load.disabled = false;
    }
  });
  return h("div", { class: "recording" }, h("span", { class: "when" }, `${when(r.tm_start)} → ${when(r.tm_end)}`), " ", load, audio, note);
}

async function callPage(main: HTMLElement, id: string): Promise<void> {
  const c = (await api.getCall(id)).body;
  const recordings = await Promise.all(c.recording_ids.map(async (rid) => {
    try {
      return (await api.getRecording(rid)).body;
    } catch {
      return null; // deleted since
    }
  }));
  const facts: [string, string][] = [["Direction", c.direction], ["From", party(c.source)], ["To", party(c.destination)],
    ["Status", c.status], ["Hung up by", hangupText(c)], ["Ringing", when(c.tm_ringing)], ["Answered", when(c.tm_progressing)],
    ["Hung up", when(c.tm_hangup)]];
  const ended = c.status === "hangup";
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Call " + c.id.slice(0, 8) + "…"), h("span", { class: "state call-state" }, c.status), h("span", { class: "grow" }),
      ended ? null : h("button", { type: "button", class: "danger hangup", onclick: async () => (await api.hangup(c.id), go(location.hash)) }, "Hang up")),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Recordings"),
    recordings.some((r) => r) ? h("div", { class: "recordings" }, recordings.filter((r): r is Recording => !!r).map(player)) : h("p", { class: "empty" }, "No recordings."));
  if (isSet(c.activeflow_id)) {
    const af = h("section", { class: "call-activeflow", "aria-label": "the call's activeflow" });
    main.append(af);
    await activeflowPage(af, c.activeflow_id);
  } else main.append(h("p", { class: "empty" }, "No activeflow yet: the call has not been answered."));
}

async function recordingList(main: HTMLElement): Promise<void> {
  const { body } = await api.listRecordings(recordingPages[recordingPages.length - 1]);
  const rows = body.result.map((r) => h("tr", {},
    h("td", {}, r.id.slice(0, 8) + "…"), h("td", {}, h("a", { href: "#/calls/" + r.reference_id }, r.reference_id.slice(0, 8) + "…")),
    h("td", {}, r.status), h("td", {}, when(r.tm_start)), h("td", {}, player(r))));
  main.append(h("div", { class: "bar" }, h("h1", {}, "Recordings")),
    body.result.length === 0 && recordingPages.length === 1 ? h("p", { class: "empty" }, "No recordings yet: a flow's recording_start records its call.") :
      h("table", { class: "list recordings" },
        h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Call"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Audio"))),
        h("tbody", {}, rows)),
    h("div", { class: "pager" },
      h("button", { type: "button", disabled: recordingPages.length === 1, onclick: () => (recordingPages.pop(), go("#/recordings")) }, "← Previous"),
      h("button", { type: "button", disabled: !body.next_page_token || body.result.length < 20, onclick: () => (recordingPages.push(body.next_page_token), go("#/recordings")) }, "Next →")));
}

window.addEventListener("hashchange", () => void route());
void route();
