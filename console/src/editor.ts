// The JSON editor (CodeMirror 6) with problems shown where their JSON Pointers point.
import { defaultKeymap, history, historyKeymap, indentWithTab, isolateHistory } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { bracketMatching, foldGutter, indentOnInput, syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { type Diagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { MergeView } from "@codemirror/merge";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import type { Problem } from "./api";
import { JSONSyntaxError, locate, pointerMap } from "./pointer";

export interface Located extends Problem {
  severity: "error" | "warning";
  line: number; // 1-based
  from: number;
  to: number;
}

function base(): Extension[] {
  return [lineNumbers(), highlightActiveLineGutter(), foldGutter(), history(), indentOnInput(), bracketMatching(), highlightActiveLine(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }), json(), EditorView.lineWrapping];
}

/** A JSON editor in host; onChange runs after every change of the text. */
export function createEditor(host: HTMLElement, text: string, onChange: (text: string) => void, onSave: () => void): EditorView {
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text,
      extensions: [
        base(),
        lintGutter(),
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (onSave(), true) }, indentWithTab, ...defaultKeymap, ...historyKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange(u.state.doc.toString());
        }),
        // tabindex: the text is in the tab order anyway (it is editable); said, so that checkers such as axe-core
        // see that the scrolling region holds something the keyboard reaches.
        EditorView.contentAttributes.of({ "aria-label": "flow JSON", tabindex: "0" }),
      ],
    }),
  });
  return view;
}

/** Replaces the editor's text with next by changing only the part that differs: the cursor and the undo
 * history stay meaningful when the graph or a form changes the document. */
export function replaceText(view: EditorView, next: string, isolate = false): void {
  const cur = view.state.doc.toString();
  if (cur === next) return;
  let a = 0;
  while (a < cur.length && a < next.length && cur[a] === next[a]) a++;
  let b = 0;
  while (b < cur.length - a && b < next.length - a && cur[cur.length - 1 - b] === next[next.length - 1 - b]) b++;
  view.dispatch({ changes: { from: a, to: cur.length - b, insert: next.slice(a, next.length - b) }, annotations: isolate ? isolateHistory.of("full") : undefined });
}

export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/** Finds each problem's place in text; a syntax error is found here, without asking the server. */
export function locateProblems(text: string, errors: Problem[], warnings: Problem[]): Located[] {
  const spans = pointerMap(text);
  const lineOf = (pos: number) => text.slice(0, pos).split("\n").length;
  const place = (p: Problem, severity: "error" | "warning"): Located => {
    const s = locate(spans, p.pointer ?? "");
    return { ...p, severity, from: s.from, to: s.to, line: lineOf(s.from) };
  };
  return [...errors.map((p) => place(p, "error")), ...warnings.map((p) => place(p, "warning"))];
}

export function syntaxProblem(text: string, e: JSONSyntaxError): Located {
  const at = Math.min(e.offset, text.length);
  return { reason: "INVALID_JSON_BODY", message: e.message, severity: "error", from: at, to: Math.min(at + 1, text.length), line: text.slice(0, at).split("\n").length };
}

export function showProblems(view: EditorView, problems: Located[]): void {
  const len = view.state.doc.length;
  const diags: Diagnostic[] = problems.map((p) => ({
    from: Math.min(p.from, len),
    to: Math.min(Math.max(p.to, p.from), len),
    severity: p.severity,
    source: p.reason,
    message: p.message + (p.pointer ? ` (${p.pointer})` : ""),
  }));
  view.dispatch(setDiagnostics(view.state, diags));
}

/** A JSON text with the keys of every object sorted, so that a diff shows changes, not orders; other text as it is. */
export function canonical(text: string): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  try {
    return JSON.stringify(sort(JSON.parse(text)), null, 2);
  } catch {
    return text;
  }
}

/** A side-by-side diff of two JSON texts (keys sorted on both sides), read-only. */
export function diffView(host: HTMLElement, left: string, right: string): MergeView {
  host.replaceChildren();
  left = canonical(left);
  right = canonical(right);
  const ro = [base(), EditorState.readOnly.of(true), EditorView.editable.of(false)];
  return new MergeView({ parent: host, a: { doc: left, extensions: ro }, b: { doc: right, extensions: ro }, collapseUnchanged: { margin: 3, minSize: 6 } });
}

export { JSONSyntaxError };
