// A few helpers to build the DOM without a framework.

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, unknown> = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") e.className = String(v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c);
  }
  return e;
}

/** A size in bytes for people. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A server timestamp (UTC, "YYYY-MM-DD HH:MM:SS.ffffff") for people: to the second, with UTC said. */
export function when(ts: string): string {
  return ts ? ts.slice(0, 19) + " UTC" : "—";
}

export function debounce<A extends unknown[]>(ms: number, f: (...a: A) => void): (...a: A) => void {
  let t: number | undefined;
  return (...a: A) => {
    window.clearTimeout(t);
    t = window.setTimeout(() => f(...a), ms);
  };
}

/** Asks before an action that cannot be undone, in a modal dialog of the page rather than the browser's confirm(),
 * whose buttons cannot say what they do: resolves true when the person chooses the action, false on Cancel or
 * Escape. The focus starts on Cancel, the choice that changes nothing. */
export function ask(question: string, action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: "danger ask-yes" }, action);
    const no = h("button", { type: "button", class: "ask-no" }, "Cancel");
    const dialog = h("dialog", { class: "ask", role: "alertdialog", "aria-labelledby": "ask-question" },
      h("p", { id: "ask-question" }, question), h("div", { class: "dialog-buttons" }, yes, no));
    let answer = false;
    yes.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
