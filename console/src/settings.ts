// The settings pages: access keys, the customer's webhook (its secret and a test delivery), and the deliveries
// of events with their attempts.
import { type Accesskey, ApiError, api, isSet } from "./api";
import { ask, h, when } from "./dom";

const pages: [string, string][] = [["accesskeys", "Access keys"], ["webhook", "Webhook"], ["deliveries", "Event deliveries"]];

export async function settingsPage(main: HTMLElement, which: string, go: (hash: string) => void): Promise<void> {
  main.append(h("div", { class: "bar" }, h("h1", {}, "Settings")),
    h("nav", { class: "subnav", "aria-label": "settings" }, pages.map(([k, t]) => h("a", { href: "#/settings/" + k, "aria-current": k === which ? "page" : undefined }, t))));
  if (which === "accesskeys") await accesskeys(main, go);
  else if (which === "webhook") await webhook(main);
  else if (which === "deliveries") await deliveries(main, go);
  else main.append(h("p", {}, "No such settings page."));
}

/** A secret shown once, with a button that copies it. */
function once(label: string, secret: string, cls: string): HTMLElement {
  const value = h("input", { class: "secret " + cls, readonly: true, value: secret, "aria-label": label, spellcheck: false });
  const note = h("span", { class: "hint", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "copy" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(secret);
      note.textContent = "Copied.";
    } catch {
      note.textContent = "Selected: press Ctrl+C to copy.";
    }
  });
  return h("div", { class: "once", role: "group", "aria-label": label },
    h("p", {}, h("strong", {}, label), " — shown only now: copy it and keep it safe."), h("div", { class: "copy-row" }, value, copy), note);
}

async function accesskeys(main: HTMLElement, go: (hash: string) => void): Promise<void> {
  const list = (await api.listAccesskeys()).body.result;
  const name = h("input", { id: "key-name", required: true, autocomplete: "off" });
  const detail = h("input", { id: "key-detail", autocomplete: "off" });
  const expire = h("select", { id: "key-expire" }, [["30 days", 30], ["90 days", 90], ["1 year", 365], ["10 years", 3650]].map(([t, d]) =>
    h("option", { value: String(d), selected: d === 365 }, String(t))));
  const shown = h("div", { class: "created" });
  const msg = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "key-form", "aria-label": "new access key" },
    h("h2", {}, "New access key"),
    h("label", { for: "key-name" }, "Name"), name,
    h("label", { for: "key-detail" }, "What it is for"), detail,
    h("label", { for: "key-expire" }, "Expires in"), expire,
    h("button", { type: "submit", class: "primary key-create" }, "Create"), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    try {
      const { body } = await api.createAccesskey(name.value.trim(), detail.value.trim(), Number(expire.value) * 86400);
      shown.replaceChildren(once(`The access key “${body.name}”`, body.token ?? "", "key-token"));
      name.value = detail.value = "";
      tbody.prepend(keyRow(body));
      empty.remove();
    } catch (err) {
      msg.textContent = (err as Error).message;
    }
  });
  const keyRow = (k: Accesskey) => {
    const del = h("button", { type: "button", class: "danger key-delete", "aria-label": `Delete the access key ${k.name || k.token_prefix}` }, "Delete");
    const row = h("tr", { class: "key-row", "data-id": k.id },
      h("td", {}, k.name || "(no name)"), h("td", {}, k.detail), h("td", {}, h("code", {}, k.token_prefix + "…")),
      h("td", {}, when(k.tm_create)), h("td", {}, when(k.tm_expire)), h("td", {}, del));
    del.addEventListener("click", async () => {
      if (!(await ask(`Delete the access key “${k.name || k.token_prefix}”? Whatever uses it stops working.`, "Delete the key"))) return;
      try {
        await api.deleteAccesskey(k.id);
        row.remove();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return go("#/login");
        msg.textContent = (err as Error).message;
      }
    });
    return row;
  };
  const tbody = h("tbody", {}, list.map(keyRow));
  const empty = h("p", { class: "empty" }, "No access keys yet.");
  main.append(form, shown, h("h2", {}, "Access keys"),
    h("table", { class: "list keys" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Detail"), h("th", {}, "Starts with"), h("th", {}, "Created"), h("th", {}, "Expires"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
      tbody));
  if (!list.length) main.append(empty);
}

async function webhook(main: HTMLElement): Promise<void> {
  const c = (await api.customer()).body;
  const url = h("input", { id: "webhook-uri", type: "url", value: c.webhook_uri, placeholder: "https://example.com/flowbin/events", autocomplete: "url" });
  const method = h("select", { id: "webhook-method" }, ["POST", "PUT", "GET", "DELETE"].map((m) => h("option", { value: m, selected: (c.webhook_method || "POST") === m }, m)));
  const msg = h("p", { class: "webhook-state", role: "status" });
  const form = h("form", { class: "webhook-form", "aria-label": "webhook" },
    h("h2", {}, "Where events go"),
    h("label", { for: "webhook-uri" }, "URL (empty: nowhere)"), url,
    h("label", { for: "webhook-method" }, "Method"), method,
    h("button", { type: "submit", class: "primary webhook-save" }, "Save"), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const { body } = await api.updateCustomer({ webhook_uri: url.value.trim(), webhook_method: method.value });
      msg.textContent = body.webhook_uri ? `Saved: events go to ${body.webhook_uri} (${body.webhook_method || "POST"}).` : "Saved: events go nowhere.";
      msg.className = "webhook-state ok";
    } catch (err) {
      msg.textContent = "Not saved: " + (err as Error).message;
      msg.className = "webhook-state error";
    }
  });
  const secretBox = h("div", { class: "secret-box" });
  const rotate = h("button", { type: "button", class: "rotate-secret" }, "Make a new secret");
  rotate.addEventListener("click", async () => {
    if (!(await ask("Make a new signing secret? Receivers that verify signatures need the new one.", "Make a new secret"))) return;
    try {
      const { body } = await api.rotateWebhookSecret();
      secretBox.replaceChildren(once("The webhook's signing secret", body.webhook_secret, "webhook-secret"));
    } catch (err) {
      secretBox.replaceChildren(h("p", { class: "error", role: "alert" }, (err as Error).message));
    }
  });
  const testOut = h("p", { class: "test-result", role: "status" });
  const test = h("button", { type: "button", class: "webhook-test" }, "Send a test delivery");
  test.addEventListener("click", async () => {
    testOut.textContent = "Sending…";
    try {
      const { body } = await api.testWebhook();
      testOut.textContent = body.error ? `Failed after ${body.duration_ms} ms: ${body.error}` +
        (body.status_code ? ` (answered ${body.status_code})` : "") : `Answered ${body.status_code} in ${body.duration_ms} ms.`;
    } catch (err) {
      testOut.textContent = "Not sent: " + (err as Error).message;
    }
  });
  main.append(form,
    h("section", { class: "card", "aria-labelledby": "secret-h" }, h("h2", { id: "secret-h" }, "Signing secret"),
      h("p", { class: "hint" }, "Events are signed with it (Standard Webhooks' webhook-signature, and VoIPbin's X-VoIPBIN-Signature). It is shown once, when it is made."),
      rotate, secretBox),
    h("section", { class: "card", "aria-labelledby": "test-h" }, h("h2", { id: "test-h" }, "Test"),
      h("p", { class: "hint" }, "Sends a signed test event to the saved URL now, and says how it was answered."), test, testOut));
}

let deliveryPages: string[] = [""];

async function deliveries(main: HTMLElement, go: (hash: string) => void): Promise<void> {
  const { body } = await api.listDeliveries(deliveryPages[deliveryPages.length - 1]);
  const rows = body.result.map((d) => h("tr", { class: "delivery state-" + d.state, "data-id": d.id },
    h("td", {}, when(d.tm_create)), h("td", {}, d.type), h("td", {}, `${d.method} ${d.url}`), h("td", { class: "delivery-state" }, d.state),
    h("td", {}, d.attempts.length ? h("details", {}, h("summary", {}, `${d.attempt_count ?? d.attempts.length} attempt${(d.attempt_count ?? d.attempts.length) === 1 ? "" : "s"}`),
      h("ol", { class: "attempts" }, d.attempts.map((a) => h("li", {}, `${when(a.tm_attempt)}: ${a.status ? "answered " + a.status : "no answer"} in ${a.duration_ms} ms${a.error ? " — " + a.error : ""}`)))) : "none yet"),
    h("td", {}, isSet(d.activeflow_id) ? h("a", { href: "#/activeflows/" + d.activeflow_id }, "execution") : "")));
  main.append(h("h2", {}, "Event deliveries"),
    body.result.length === 0 && deliveryPages.length === 1 ? h("p", { class: "empty" }, "Nothing delivered yet: set a webhook, then run a flow.") :
      h("table", { class: "list deliveries" },
        h("thead", {}, h("tr", {}, h("th", {}, "Created"), h("th", {}, "Event"), h("th", {}, "To"), h("th", {}, "State"), h("th", {}, "Attempts"), h("th", {}, "From"))),
        h("tbody", {}, rows)),
    h("div", { class: "pager" },
      h("button", { type: "button", disabled: deliveryPages.length === 1, onclick: () => (deliveryPages.pop(), go("#/settings/deliveries")) }, "← Previous"),
      h("button", { type: "button", disabled: !body.next_page_token || body.result.length < 20, onclick: () => (deliveryPages.push(body.next_page_token), go("#/settings/deliveries")) }, "Next →")));
}
