// The phone: starts a real activeflow of a flow and plays the runner's part. It shows what each action would do,
// offers a keypad when digits_receive waits, reports each action done with POST /next (sending back the current
// action's id and, when the server numbers steps, its step), and shows the trace and why the call ended.
import { type Activeflow, ApiError, type ExecutedAction, api } from "./api";
import { h } from "./dom";

const digitsVar = "voipbin.call.digits";
const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/** What an action does, in words, as a phone would perform it. */
export function describe(a: ExecutedAction): string {
  const o = (a.option ?? {}) as Record<string, unknown>;
  switch (a.type) {
    case "talk":
      return `says: “${String(o.text ?? "")}”`;
    case "play": {
      const urls = (o.stream_urls ?? o.stream_url ?? []) as string[];
      return "plays: " + urls.join(", ");
    }
    case "digits_receive":
      return "waits for digits" + (o.length ? ` (${o.length})` : "") + (o.key ? `, ending with ${o.key}` : "");
    case "answer":
      return "answers the call";
    case "hangup":
      return "hangs up" + (o.reason ? ` (${o.reason})` : "");
    case "beep":
      return "beeps";
    case "sleep":
    case "echo":
      return `${a.type} for ${Number(o.duration ?? 0)} ms`;
    default:
      return `performs ${a.type}`;
  }
}

export interface PhoneEvents {
  /** The activeflow as it is now: the page highlights its path. */
  onUpdate(af: Activeflow): void;
}

export class Phone {
  readonly root: HTMLElement;
  private af: Activeflow | null = null;
  private digits = "";
  private busy = false;
  private timer: number | undefined;
  private readonly screen = h("div", { class: "phone-screen", "aria-live": "polite" });
  private readonly status = h("p", { class: "phone-status" });
  private readonly entered = h("output", { class: "phone-digits", "aria-label": "digits entered" });
  private readonly pad = h("div", { class: "keypad", role: "group", "aria-label": "keypad" });
  private readonly send = h("button", { type: "button", class: "send", disabled: true }, "Send digits");
  private readonly start = h("button", { type: "button", class: "primary call-start" }, "Start a call");
  private readonly hang = h("button", { type: "button", class: "danger", disabled: true }, "Hang up");
  private readonly trace = h("ol", { class: "trace", "aria-label": "trace" });
  private readonly onKey = (e: KeyboardEvent) => {
    if (!this.waiting() || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement;
    if (t.closest(".cm-editor, input, textarea")) return;
    if (keys.includes(e.key)) {
      e.preventDefault();
      this.press(e.key);
    } else if (e.key === "Enter" && this.digits) {
      e.preventDefault();
      void this.report({ [digitsVar]: this.digits });
    }
  };

  constructor(
    private readonly flowId: () => string,
    private readonly revisionNote: () => string,
    private readonly events: PhoneEvents,
  ) {
    for (const k of keys) this.pad.append(h("button", { type: "button", class: "key", "data-key": k, disabled: true, onclick: () => this.press(k) }, k));
    this.start.addEventListener("click", () => void this.begin());
    this.hang.addEventListener("click", () => void this.hangUp());
    this.send.addEventListener("click", () => void this.report({ [digitsVar]: this.digits }));
    this.root = h("section", { class: "phone", "aria-label": "try a call" },
      h("div", { class: "phone-buttons" }, this.start, this.hang),
      this.status, this.screen, this.entered, this.pad, this.send,
      h("h3", {}, "Trace"), this.trace);
    this.status.textContent = "Calls the saved flow: a real activeflow, with this page as the phone.";
    document.addEventListener("keydown", this.onKey);
  }

  /** Leaving the page hangs up a call in progress: nobody would ever report its actions. */
  dispose(): void {
    document.removeEventListener("keydown", this.onKey);
    window.clearTimeout(this.timer);
    if (this.af?.status === "running") void api.stop(this.af.id).catch(() => undefined);
    this.af = null;
  }

  private waiting(): boolean {
    return this.af?.status === "running" && this.af.current_action?.type === "digits_receive" && !this.busy;
  }

  private async begin(): Promise<void> {
    window.clearTimeout(this.timer);
    if (this.af?.status === "running") void api.stop(this.af.id).catch(() => undefined); // one call at a time
    this.digits = "";
    this.trace.replaceChildren();
    this.status.textContent = "Calling… " + this.revisionNote();
    try {
      this.show((await api.startCall(this.flowId())).body);
    } catch (e) {
      this.status.textContent = "Could not start the call: " + (e as Error).message;
    }
  }

  private async hangUp(): Promise<void> {
    if (!this.af) return;
    window.clearTimeout(this.timer);
    try {
      this.show((await api.stop(this.af.id)).body);
    } catch (e) {
      this.status.textContent = "Could not hang up: " + (e as Error).message;
    }
  }

  private press(k: string): void {
    if (!this.waiting()) return;
    this.digits += k;
    this.entered.textContent = this.digits;
    const o = (this.af!.current_action!.option ?? {}) as { length?: number; key?: string };
    if ((o.length && this.digits.length >= o.length) || (o.key && o.key.includes(k))) void this.report({ [digitsVar]: this.digits });
  }

  /** Reports the current action done, with what it collected. */
  private async report(variables?: Record<string, string>): Promise<void> {
    const af = this.af;
    const cur = af?.current_action;
    if (!af || !cur || af.status !== "running" || this.busy) return;
    this.busy = true;
    this.setKeys();
    const body: { current_action_id: string; step?: number; variables?: Record<string, string> } = { current_action_id: cur.id };
    if (typeof cur.step === "number") body.step = cur.step;
    if (variables) body.variables = variables;
    try {
      this.show(withHistory(af, (await api.next(af.id, body)).body));
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        // Someone else advanced or ended it: show where it is now.
        this.show((await api.getActiveflow(af.id)).body);
      } else {
        this.busy = false;
        this.status.textContent = "The server refused the report: " + (e as Error).message;
        this.setKeys();
      }
    }
  }

  private show(af: Activeflow): void {
    this.af = af;
    this.busy = false;
    this.digits = "";
    this.entered.textContent = "";
    this.trace.replaceChildren(
      ...af.executed_actions.map((a, i) =>
        h("li", { class: "trace-item" + (a.decision ? " decision" : ""), "data-type": a.type },
          h("span", { class: "trace-type" }, `${a.step ?? i + 1}. ${a.name ? `${a.name} (${a.type})` : a.type}`), " ",
          h("span", { class: "trace-what" }, a.decision ? a.decision.reason : describe(a)))),
    );
    this.hang.disabled = af.status !== "running";
    const cur = af.status === "running" ? af.current_action : undefined;
    if (cur) {
      this.status.textContent = `On the call (${af.id.slice(0, 8)}…)`;
      this.screen.replaceChildren(h("p", { class: "now", "data-type": cur.type }, h("strong", {}, cur.type), " ", describe(cur)));
      if (cur.type !== "digits_receive") this.timer = window.setTimeout(() => void this.report(), 700);
      else this.screen.append(h("p", { class: "hint" }, "Press keys on the keypad or on your keyboard."));
    } else {
      this.status.textContent = "The call ended: " + (af.end_reason || "ended");
      this.screen.replaceChildren(h("p", { class: "ended" }, h("strong", {}, "ended"), " ", af.end_reason));
    }
    this.setKeys();
    this.events.onUpdate(af);
  }

  private setKeys(): void {
    const on = this.waiting();
    for (const b of this.pad.querySelectorAll("button")) (b as HTMLButtonElement).disabled = !on;
    this.send.disabled = !on;
  }
}

/**
 * The answer of next holds only the actions that report moved to (it does not grow with the call): the phone keeps
 * the trace it had before them.
 */
function withHistory(before: Activeflow, after: Activeflow): Activeflow {
  const first = after.executed_actions[0]?.step;
  const kept = typeof first === "number"
    ? before.executed_actions.filter((a) => typeof a.step !== "number" || a.step < first)
    : before.executed_actions;
  return { ...after, executed_actions: [...kept, ...after.executed_actions] };
}
