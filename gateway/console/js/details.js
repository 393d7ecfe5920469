// One customer: a header and one tab per part of their record, each loaded from the gateway
// when opened. Actions the role may not take are not shown.

import { api } from "./api.js";
import { extraProducts, loadCatalog, planLabel, planName, productName } from "./catalog.js";
import { changeSubscription, infoFields, readInfo, renew } from "./customers.js";
import { sell, webshopMoveNote } from "./selling.js";
import { SELL, SUPPORT, can } from "./session.js";
import {
  attempt,
  badge,
  clear,
  dialog,
  field,
  flash,
  fullName,
  h,
  keepingFocus,
  options,
  secretDialog,
  table,
  tabList,
  when,
} from "./ui.js";

const TABS = [
  ["info", "Customer Info"],
  ["subscription", "Subscription"],
  ["account", "Account"],
  ["tickets", "Tickets"],
  ["devices", "Devices"],
  ["profiles", "Profiles"],
  ["favorites", "Favorites"],
  ["watchlist", "Watchlist"],
  ["recordings", "Recordings"],
  ["transactions", "Transactions"],
  ["messages", "Messages"],
  ["history", "History"],
];

export async function renderDetails(app, customerId, tab) {
  const [customer, catalog] = await Promise.all([api("GET", `/customers/${customerId}`), loadCatalog()]);
  // data-state tells when the tab has finished loading (ready) or failed (error).
  const panel = h("section", {
    class: "card",
    id: "details-panel",
    role: "tabpanel",
    "aria-labelledby": `details-panel-tab-${tab}`,
    "data-tab": tab,
  });
  const reload = () => keepingFocus(() => renderDetails(app, customerId, tab));
  const tabs = tabList(TABS, tab, (name) => (location.hash = `#/customers/${customerId}/${name}`), {
    label: "Customer record",
    panelId: "details-panel",
  });
  const summary = customer.subscription || {};
  clear(
    app,
    h("p", {}, h("a", { href: "#/customers" }, "← Customers")),
    h("h1", {}, fullName(customer.info) || customer.id, " ", badge(customer.status)),
    h(
      "p",
      { class: "muted" },
      `Login ${customer.login} · ${customer.source} · webshop ${customer.webshop_id}`,
      summary.product_id
        ? ` · ${productName(catalog, summary.product_id)}, ${planName(catalog, summary.product_id, summary.plan_id)}, expires ${when(summary.expires_at)}`
        : " · no subscription yet",
    ),
    tabs,
    panel,
  );
  const render = RENDERERS[tab] || RENDERERS.info;
  clear(panel, h("p", { class: "muted" }, "Loading…"));
  try {
    await render(panel, { customer, catalog, reload, path: `/customers/${customerId}` });
    panel.dataset.state = "ready";
  } catch (problem) {
    clear(panel, h("p", { class: "error-text", role: "alert" }, problem.message || String(problem)));
    panel.dataset.state = "error";
  }
}

function kv(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)]),
  );
}

function confirmAction(title, text, action, label) {
  dialog(title, h("p", {}, text), action, { saveLabel: label, danger: true });
}

async function infoTab(panel, { customer, catalog, reload, path }) {
  if (!can(SELL)) {
    const info = customer.info;
    clear(
      panel,
      kv([
        ["Name", fullName(info)],
        ["E-mail", info.email],
        ["Phone", info.phone],
        ["Mobile", info.mobile],
        ["Address", [info.street, info.zip, info.city, info.country].filter(Boolean).join(", ")],
        ["Webshop", customer.webshop_id],
        ["Comments", info.comments],
        ["Created", when(customer.created_at)],
      ]),
    );
    return;
  }
  const webshop = h("select", { name: "webshop_id" }, options(catalog.webshops.map((w) => [w.id, w.name]), customer.webshop_id));
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h(
    "form",
    {},
    infoFields(customer.info),
    h("div", { class: "row" }, field("Webshop", webshop)),
    webshopMoveNote(path, webshop, customer.webshop_id, save),
    h("p", {}, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { info: readInfo(form, { keepEmpty: true }) };
    if (webshop.value !== customer.webshop_id) body.webshop_id = webshop.value;
    const saved = await attempt(() => api("PATCH", path, { body }), "Saved.");
    if (saved) await reload();
  });
  const erase = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: () =>
        confirmAction(
          "Erase customer",
          `Erase ${fullName(customer.info)}? Personal data is removed from every service; amounts stay in the ledger.`,
          async () => {
            await api("DELETE", path);
            flash("Customer erased.");
            location.hash = "#/customers";
          },
          "Erase",
        ),
    },
    "Erase customer",
  );
  clear(panel, form, h("hr"), erase);
}

async function subscriptionTab(panel, { customer, catalog, reload, path }) {
  let sub = null;
  try {
    sub = await api("GET", `${path}/subscription`);
  } catch (problem) {
    // Billing's "No subscription" is an answer; any other failure (a 404 of a route the
    // gateway lacks included) is shown as the error it is.
    if (problem.status !== 404 || problem.problem?.title !== "No subscription") throw problem;
  }
  const actions = can(SELL)
    ? h(
        "div",
        { class: "row" },
        sub
          ? h("button", { type: "button", onclick: () => renew(catalog, customer, reload) }, "Renew")
          : h("button", { type: "button", class: "primary", onclick: () => sell(catalog, customer, reload) }, "Sell subscription"),
        sub ? h("button", { type: "button", onclick: () => changeSubscription(catalog, customer, reload) }, "Change") : null,
        sub ? h("button", { type: "button", onclick: () => extendExpiry(path, sub, reload) }, "Extend expiry") : null,
        sub ? h("button", { type: "button", onclick: () => addExtra(path, catalog, reload) }, "Add extra") : null,
        sub ? h("button", { type: "button", class: "danger", onclick: () => cancel(path, reload) }, "Cancel subscription") : null,
      )
    : null;
  if (!sub) {
    clear(panel, h("p", { class: "muted" }, "No subscription yet."), actions);
    return;
  }
  const extras = (sub.extras && sub.extras.length ? sub.extras : sub.extra_product_ids.map((id) => ({ product_id: id })));
  clear(
    panel,
    kv([
      ["Status", badge(sub.status)],
      ["Product", productName(catalog, sub.product_id)],
      ["Plan", planName(catalog, sub.product_id, sub.plan_id)],
      ["Starts", when(sub.starts_at)],
      ["Expires", when(sub.expires_at)],
      ["Devices", String(sub.max_devices)],
      ["Cancels at period end", sub.cancel_at_period_end ? "yes" : "no"],
      [
        "Scheduled change",
        sub.scheduled_change
          ? `${productName(catalog, sub.scheduled_change.product_id)} from ${when(sub.scheduled_change.starts_at)}`
          : null,
      ],
    ]),
    h("h2", {}, "Extras"),
    table(
      extras,
      [
        ["Product", (e) => productName(catalog, e.product_id)],
        ["Expires", (e) => (e.expires_at ? when(e.expires_at) : "with the base")],
      ],
      can(SELL)
        ? (e) =>
            h(
              "button",
              {
                type: "button",
                onclick: () =>
                  confirmAction("Remove extra", `Remove ${productName(catalog, e.product_id)}?`, async () => {
                    await api("DELETE", `${path}/subscription/extras/${encodeURIComponent(e.product_id)}`);
                    flash("Extra removed.");
                    await reload();
                  }, "Remove"),
              },
              "Remove",
            )
        : null,
      "No extras.",
    ),
    actions,
  );
}

function extendExpiry(path, sub, reload) {
  const current = sub.expires_at ? new Date(sub.expires_at) : new Date();
  const date = h("input", { type: "date", name: "expires_on", required: true, value: current.toISOString().slice(0, 10) });
  const reason = h("input", { name: "reason", required: true, maxlength: 300, value: "" });
  dialog("Extend expiry", [field("New expiry date (UTC end of day)", date), field("Reason", reason)], async () => {
    await api("PUT", `${path}/subscription/expiry`, {
      body: { expires_at: `${date.value}T23:59:59Z`, reason: reason.value },
    });
    flash("Expiry set.");
    await reload();
  });
}

function addExtra(path, catalog, reload) {
  const extras = extraProducts(catalog);
  const product = h("select", { name: "extra_product_id", required: true }, options(extras.map((p) => [p.id, p.name])));
  const plan = h("select", { name: "extra_plan_id" });
  const fill = () => {
    const chosen = extras.find((p) => p.id === product.value);
    clear(plan, options((chosen ? chosen.plans : []).map((p) => [p.id, planLabel(p)]), undefined, { blank: "Runs with the base" }));
  };
  product.addEventListener("change", fill);
  fill();
  dialog("Add extra", [field("Extra product", product), field("Plan", plan)], async () => {
    await api("POST", `${path}/subscription/extras`, { body: { product_id: product.value, plan_id: plan.value || null } });
    flash("Extra added.");
    await reload();
  });
}

function cancel(path, reload) {
  const whenField = h("select", { name: "when" }, options([["now", "Now"], ["at_period_end", "At the end of the period"]]));
  const reason = h("input", { name: "reason", maxlength: 300 });
  dialog("Cancel subscription", [field("When", whenField), field("Reason", reason)], async () => {
    await api("POST", `${path}/subscription/cancel`, { body: { when: whenField.value, reason: reason.value || null } });
    flash("Subscription cancelled.");
    await reload();
  }, { saveLabel: "Cancel subscription", danger: true });
}

async function accountTab(panel, { reload, path }) {
  const account = await api("GET", `${path}/account`);
  const actions = can(SELL)
    ? h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              const done = await attempt(
                () => api("PATCH", `${path}/account`, { body: { disabled: !account.disabled } }),
                account.disabled ? "Account enabled." : "Account disabled.",
              );
              if (done) await reload();
            },
          },
          account.disabled ? "Enable account" : "Disable account",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: () =>
              confirmAction("Reset password", "Generate a new password? The old one stops working.", async () => {
                const reset = await api("POST", `${path}/account/password`, { body: {} });
                secretDialog("New password", h("p", { class: "muted" }, "Shown this once: give it to the customer now."), [
                  ["Password", reset.password, "password"],
                ]);
              }, "Reset"),
          },
          "Reset password",
        ),
        h("button", { type: "button", "data-focus": "change-login", onclick: () => changeLogin(path, account, reload) }, "Change login"),
      )
    : null;
  clear(
    panel,
    kv([
      ["Login", account.login],
      ["Generated login", account.login_generated ? "yes" : "no"],
      ["Disabled", account.disabled ? badge("disabled") : "no"],
      ["Created", when(account.created_at)],
      ["Last login", when(account.last_login_at)],
      ["Password reset", when(account.password_reset_at)],
    ]),
    actions,
  );
}

function changeLogin(path, account, reload) {
  const login = h("input", {
    name: "new_login",
    required: true,
    minlength: 3,
    maxlength: 64,
    pattern: "[A-Za-z0-9._@+\\-]+",
    autocomplete: "off",
    value: account.login,
  });
  dialog(
    "Change login",
    [
      field("New login", login),
      h("p", { class: "muted" }, "3 to 64 letters, digits or . _ @ + - ; unique ignoring case. The customer signs in with it from now on."),
    ],
    async () => {
      await api("PATCH", `${path}/account`, { body: { login: login.value.trim() } });
      flash("Login changed.");
      await reload();
    },
  );
}

async function ticketsTab(panel, { customer, path }, openId = null) {
  const page = await api("GET", `${path}/tickets`, { query: { limit: 50 } });
  const conversation = h("div");
  // After a change the list is fetched again and the ticket stays open.
  const again = (ticketId) => ticketsTab(panel, { customer, path }, ticketId);
  const open = async (ticketId) => {
    const full = await api("GET", `${path}/tickets/${ticketId}`);
    renderTicket(conversation, full, path, again);
  };
  clear(
    panel,
    can(SUPPORT) ? h("p", {}, h("button", { type: "button", class: "primary", onclick: () => newTicket(path, () => again(null)) }, "New ticket")) : null,
    table(
      page.items,
      [
        ["Subject", "subject"],
        ["Status", (t) => badge(t.status)],
        ["Priority", "priority"],
        ["Assignee", "assignee"],
        ["Updated", (t) => when(t.updated_at)],
      ],
      (t) => h("button", { type: "button", onclick: () => attempt(() => open(t.id)) }, "Open"),
      "No tickets.",
    ),
    conversation,
  );
  if (openId) await open(openId);
}

function renderTicket(box, ticket, path, reload) {
  const messages = (ticket.messages || []).map((m) =>
    h(
      "div",
      { class: `bubble ${m.author_kind}${m.internal ? " internal" : ""}` },
      h("small", {}, `${m.author || m.author_kind} · ${when(m.created_at)}${m.internal ? " · internal note" : ""}`),
      m.body,
    ),
  );
  const body = h("textarea", { name: "reply", required: true, maxlength: 4000, "aria-label": "Reply" });
  const internal = h("input", { type: "checkbox", name: "internal" });
  const reply = can(SUPPORT)
    ? h(
        "form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            const sent = await attempt(
              () => api("POST", `${path}/tickets/${ticket.id}/messages`, { body: { body: body.value, internal: internal.checked } }),
              "Reply sent.",
            );
            if (sent) renderTicket(box, await api("GET", `${path}/tickets/${ticket.id}`), path, reload);
          },
        },
        body,
        h("div", { class: "row" }, h("label", { class: "inline" }, internal, "Internal note"), h("button", { type: "submit", class: "primary" }, "Send reply")),
      )
    : null;
  const status = can(SUPPORT)
    ? h(
        "select",
        {
          name: "ticket_status",
          "aria-label": "Ticket status",
          onchange: async (event) => {
            const updated = await attempt(
              () => api("PATCH", `${path}/tickets/${ticket.id}`, { body: { status: event.target.value } }),
              "Status changed.",
            );
            if (updated) await reload(ticket.id);
          },
        },
        options(["open", "pending", "resolved", "closed"].map((s) => [s, s]), ticket.status),
      )
    : badge(ticket.status);
  clear(box, h("h2", {}, ticket.subject, " "), h("div", { class: "row" }, field("Status", status)), h("div", { class: "conversation" }, messages), reply);
}

function newTicket(path, reload) {
  const subject = h("input", { name: "subject", required: true, maxlength: 200 });
  const description = h("textarea", { name: "description", maxlength: 4000 });
  dialog("New ticket", [field("Subject", subject), field("Description", description)], async () => {
    await api("POST", `${path}/tickets`, { body: { subject: subject.value, description: description.value || null } });
    flash("Ticket opened.");
    await reload();
  });
}

function removable(label, url, reload) {
  if (!can(SELL)) return null;
  return (item) =>
    h(
      "button",
      {
        type: "button",
        onclick: () =>
          confirmAction(label, `${label}: ${item.title || item.model || item.name || item.id}?`, async () => {
            await api("DELETE", url(item));
            flash("Done.");
            await reload();
          }, label),
      },
      label,
    );
}

async function devicesTab(panel, { path, reload }) {
  const page = await api("GET", `${path}/devices`);
  clear(
    panel,
    h("p", { class: "muted" }, `Device limit: ${page.max_devices ?? "unknown"}${page.device_policy ? ` (${page.device_policy})` : ""}`),
    table(
      page.items,
      [
        ["Device", "id"],
        ["Kind", "kind"],
        ["Model", "model"],
        ["Online", (d) => badge(d.online ? "online" : "offline")],
        ["Connected", (d) => when(d.connected_at || d.first_seen_at)],
        ["Last seen", (d) => when(d.last_seen_at)],
      ],
      removable("Unbind", (d) => `${path}/devices/${encodeURIComponent(d.id)}`, reload),
      "No devices.",
    ),
  );
}

async function profilesTab(panel, { path, reload }) {
  const page = await api("GET", `${path}/profiles`);
  const add = can(SELL)
    ? h(
        "button",
        {
          type: "button",
          onclick: () => {
            const name = h("input", { name: "profile_name", required: true, maxlength: 40 });
            const kids = h("input", { type: "checkbox", name: "kids" });
            dialog("Add profile", [field("Name", name), h("label", { class: "inline" }, kids, "Kids profile")], async () => {
              await api("POST", `${path}/profiles`, { body: { name: name.value, kids: kids.checked } });
              flash("Profile added.");
              await reload();
            });
          },
        },
        "Add profile",
      )
    : null;
  clear(
    panel,
    add,
    table(
      page.items,
      [
        ["Name", "name"],
        ["Kids", "kids"],
        ["PIN", "has_pin"],
        ["Default", "is_default"],
        ["Created", (p) => when(p.created_at)],
      ],
      removable("Delete", (p) => `${path}/profiles/${encodeURIComponent(p.id)}`, reload),
      "No profiles.",
    ),
  );
}

function savedTab(kind) {
  return async (panel, { path, reload }) => {
    const page = await api("GET", `${path}/${kind}`);
    clear(
      panel,
      table(
        page.items,
        [
          ["Title", "title"],
          ["Type", "item_type"],
          ["Item", "item_id"],
          ["Profile", "profile_id"],
          ["Added", (i) => when(i.added_at)],
        ],
        removable("Remove", (i) => `${path}/${kind}/${encodeURIComponent(i.id)}`, reload),
        `No ${kind === "favorites" ? "favorites" : "watchlist items"}.`,
      ),
    );
  };
}

async function recordingsTab(panel, { path, reload }) {
  const page = await api("GET", `${path}/recordings`);
  clear(
    panel,
    table(
      page.items,
      [
        ["Title", "title"],
        ["Channel", "channel_id"],
        ["State", (r) => badge(r.state)],
        ["Starts", (r) => when(r.starts_at)],
        ["Ends", (r) => when(r.ends_at)],
        ["Profile", "profile_id"],
      ],
      removable("Delete", (r) => `${path}/recordings/${encodeURIComponent(r.id)}`, reload),
      "No recordings.",
    ),
  );
}

async function transactionsTab(panel, { path }) {
  const [ledger, invoices] = await Promise.all([
    api("GET", `${path}/transactions`, { query: { limit: 100 } }),
    api("GET", `${path}/invoices`).catch((problem) => ({ error: problem.message })),
  ]);
  // The balance is what the customer owes: a negative one means they are in credit.
  const balance = Object.entries(ledger.balance || {}).map(([currency, amount]) => `${amount} ${currency}`).join(", ");
  clear(
    panel,
    h("p", { "data-testid": "balance" }, "Owes: ", balance || "—"),
    table(
      ledger.items,
      [
        ["When", (t) => when(t.recorded_at)],
        ["Kind", "kind"],
        ["Amount", (t) => `${["payment", "credit"].includes(t.kind) ? "−" : ""}${t.amount} ${t.currency}`],
        ["Owed after", (t) => (t.balance_after === null || t.balance_after === undefined ? null : `${t.balance_after} ${t.currency}`)],
        ["Description", "description"],
        ["Source", "source"],
        ["Order", "order_id"],
      ],
      null,
      "No transactions.",
    ),
    h("h2", {}, "Invoices"),
    invoices.error
      ? h("p", { class: "error-text" }, invoices.error)
      : table(
          invoices.items,
          [
            ["Number", (i) => i.number || i.id],
            ["Issued", (i) => when(i.issued_at || i.created_at)],
            ["Total", (i) => (i.total !== undefined ? `${i.total} ${i.currency || ""}` : null)],
            ["Paid", (i) => (i.paid !== undefined ? `${i.paid} ${i.currency || ""}` : null)],
            ["Due", (i) => (i.due !== undefined ? `${i.due} ${i.currency || ""}` : null)],
          ],
          null,
          "No invoices.",
        ),
  );
}

async function messagesTab(panel, { path, reload }) {
  const page = await api("GET", `${path}/messages`, { query: { limit: 100 } });
  const send = can(SUPPORT)
    ? h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () => {
            const title = h("input", { name: "message_title", required: true, maxlength: 200 });
            const body = h("textarea", { name: "message_body", required: true, maxlength: 4000 });
            const device = h("input", { name: "device_id", placeholder: "every device" });
            dialog("Send message", [field("Title", title), field("Message", body), field("Device (optional)", device)], async () => {
              await api("POST", `${path}/messages`, {
                body: { title: title.value, body: body.value, device_id: device.value.trim() || null },
              });
              flash("Message sent.");
              await reload();
            }, { saveLabel: "Send" });
          },
        },
        "Send message",
      )
    : null;
  clear(
    panel,
    send,
    table(
      page.items,
      [
        ["Sent", (m) => when(m.sent_at)],
        ["Title", "title"],
        ["Message", "body"],
        ["Channel", "channel"],
        ["By", (m) => m.sent_by || "system"],
        ["Status", (m) => badge(m.status)],
        ["Read", (m) => when(m.read_at)],
      ],
      null,
      "No messages.",
    ),
  );
}

async function historyTab(panel, { path }) {
  const timeline = await api("GET", `${path}/timeline`, { query: { limit: 200 } });
  clear(
    panel,
    timeline.unavailable && timeline.unavailable.length
      ? h("p", { class: "error-text" }, `Not shown, their service did not answer: ${timeline.unavailable.join(", ")}.`)
      : null,
    table(
      timeline.items,
      [
        ["When", (i) => when(i.at)],
        ["Service", "service"],
        ["What", "kind"],
        ["Summary", "summary"],
      ],
      null,
      "Nothing has happened yet.",
    ),
  );
}

const RENDERERS = {
  info: infoTab,
  subscription: subscriptionTab,
  account: accountTab,
  tickets: ticketsTab,
  devices: devicesTab,
  profiles: profilesTab,
  favorites: savedTab("favorites"),
  watchlist: savedTab("watchlist"),
  recordings: recordingsTab,
  transactions: transactionsTab,
  messages: messagesTab,
  history: historyTab,
};
