// Admin pages: operators (add, role, disable, password), API keys (create, revoke), audit log.

import { api } from "./api.js";
import { attempt, badge, clear, dialog, field, flash, h, options, secretDialog, table, when } from "./ui.js";

const ROLES = ["viewer", "support", "operator", "admin"].map((r) => [r, r]);

export async function renderOperators(app) {
  const [operators, keys] = await Promise.all([api("GET", "/operators"), api("GET", "/api-keys")]);
  const again = () => renderOperators(app);
  clear(
    app,
    h("h1", {}, "Operators and API keys"),
    h(
      "section",
      { class: "card", "aria-label": "Operators" },
      h("div", { class: "row" }, h("h2", {}, "Operators"), h("span", { class: "spacer" }), h("button", { type: "button", class: "primary", onclick: () => addOperator(again) }, "Add operator")),
      table(
        operators.items,
        [
          ["Username", "username"],
          ["Role", (o) => badge(o.role)],
          ["Disabled", (o) => (o.disabled ? badge("disabled") : "no")],
          ["Created", (o) => when(o.created_at)],
        ],
        (o) => [
          h("button", { type: "button", onclick: () => editOperator(o, again) }, "Edit"),
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                const done = await attempt(
                  () => api("PATCH", `/operators/${o.id}`, { body: { disabled: !o.disabled } }),
                  o.disabled ? "Operator enabled." : "Operator disabled.",
                );
                if (done) await again();
              },
            },
            o.disabled ? "Enable" : "Disable",
          ),
        ],
      ),
    ),
    h(
      "section",
      { class: "card", "aria-label": "API keys" },
      h("div", { class: "row" }, h("h2", {}, "API keys"), h("span", { class: "spacer" }), h("button", { type: "button", class: "primary", onclick: () => addKey(again) }, "Create API key")),
      table(
        keys.items,
        [
          ["Name", "name"],
          ["Key starts", "prefix"],
          ["Role", (k) => badge(k.role)],
          ["Created", (k) => when(k.created_at)],
          ["Revoked", (k) => when(k.revoked_at)],
        ],
        (k) =>
          k.revoked_at
            ? null
            : h(
                "button",
                {
                  type: "button",
                  class: "danger",
                  onclick: () =>
                    dialog("Revoke API key", h("p", {}, `Revoke ${k.name}? It stops working at once.`), async () => {
                      await api("DELETE", `/api-keys/${k.id}`);
                      flash("Key revoked.");
                      await again();
                    }, { saveLabel: "Revoke", danger: true }),
                },
                "Revoke",
              ),
        "No API keys.",
      ),
    ),
  );
}

function addOperator(done) {
  const username = h("input", { name: "new_username", required: true, pattern: "[A-Za-z0-9._@-]{3,64}" });
  const password = h("input", { name: "new_password", type: "password", required: true, minlength: 12, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, options(ROLES, "operator"));
  dialog("Add operator", [field("Username", username), field("Password", password), field("Role", role)], async () => {
    await api("POST", "/operators", { body: { username: username.value, password: password.value, role: role.value } });
    flash("Operator added.");
    await done();
  });
}

function editOperator(operator, done) {
  const role = h("select", { name: "role" }, options(ROLES, operator.role));
  const password = h("input", { name: "new_password", type: "password", minlength: 12, autocomplete: "new-password", placeholder: "unchanged" });
  dialog(`Edit ${operator.username}`, [field("Role", role), field("New password", password)], async () => {
    const body = { role: role.value };
    if (password.value) body.password = password.value;
    await api("PATCH", `/operators/${operator.id}`, { body });
    flash("Operator saved.");
    await done();
  });
}

function addKey(done) {
  const name = h("input", { name: "key_name", required: true, maxlength: 100 });
  const role = h("select", { name: "role" }, options(ROLES, "viewer"));
  dialog("Create API key", [field("Name", name), field("Role", role)], async () => {
    const created = await api("POST", "/api-keys", { body: { name: name.value, role: role.value } });
    await done();
    secretDialog("API key created", h("p", {}, "Send it as the X-API-Key header. It is shown this once."), [
      ["Key", created.key, "api-key"],
    ]);
  });
}

export async function renderAudit(app, params) {
  const customerId = params.get("customer_id") || "";
  const actor = params.get("actor") || "";
  const cursor = params.get("cursor") || "";
  const page = await api("GET", "/audit", { query: { customer_id: customerId, actor, cursor, limit: 50 } });
  const customer = h("input", { name: "customer_id", value: customerId });
  const who = h("input", { name: "actor", value: actor });
  const filters = h(
    "form",
    {
      class: "row",
      onsubmit: (event) => {
        event.preventDefault();
        const next = new URLSearchParams();
        if (customer.value.trim()) next.set("customer_id", customer.value.trim());
        if (who.value.trim()) next.set("actor", who.value.trim());
        location.hash = `#/audit?${next}`;
      },
    },
    field("Customer id", customer),
    field("Operator or key", who),
    h("button", { type: "submit" }, "Filter"),
  );
  const older = new URLSearchParams(params);
  if (page.next_cursor) older.set("cursor", page.next_cursor);
  clear(
    app,
    h("h1", {}, "Audit log"),
    h("div", { class: "card" }, filters),
    h(
      "div",
      { class: "card" },
      table(
        page.items,
        [
          ["When", (e) => when(e.at)],
          ["Who", "actor"],
          ["Action", "action"],
          ["Path", "path"],
          ["Status", "status_code"],
          ["Customer", (e) => (e.customer_id ? h("a", { href: `#/customers/${e.customer_id}/history` }, e.customer_id.slice(0, 8)) : null)],
          ["Before", (e) => (e.before ? JSON.stringify(e.before).slice(0, 120) : null)],
          ["After", (e) => (e.after ? JSON.stringify(e.after).slice(0, 120) : null)],
        ],
        null,
        "No entries.",
      ),
      page.next_cursor ? h("div", { class: "pager" }, h("a", { class: "button", href: `#/audit?${older}` }, "Older")) : null,
    ),
  );
}
