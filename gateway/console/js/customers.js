// The Customers page: Active/Inactive tabs, status filter, search, sort, pages; Add customer;
// Renew and Change in each row.

import { api, download } from "./api.js";
import { baseProducts, extraProducts, loadCatalog, planLabel, planName, productName } from "./catalog.js";
import { paymentFields, sell } from "./selling.js";
import { countries, isCountry } from "./countries.js";
import { REPEAT_TRIAL, SELL, can } from "./session.js";
import {
  applyOnPick,
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
  tabList,
  when,
} from "./ui.js";

const PAGE_SIZES = [20, 50, 100];
const GROUPS = {
  active: ["trial", "active"],
  inactive: ["pending", "expired", "disabled"],
};
const SORTS = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["name", "Name A–Z"],
  ["-name", "Name Z–A"],
  ["expires_at", "Expiring soonest"],
  ["-expires_at", "Expiring latest"],
  ["status", "Status"],
];
// Expiry within this many days is flagged in the list.
export const EXPIRY_WARNING_DAYS = 7;

// Cursors of the pages before the current one, for "Previous".
let cursors = [];

function hashFor(params) {
  const text = params.toString();
  return `#/customers${text ? "?" + text : ""}`;
}

function go(params, { keepCursors = false } = {}) {
  if (!keepCursors) cursors = [];
  location.hash = hashFor(params);
}

/** "12 days left" (whole days), "less than a day left", "expired 3 days ago", flagged when
 * within EXPIRY_WARNING_DAYS or past. */
export function expiryCell(expiresAt) {
  if (!expiresAt) return h("span", { class: "muted" }, "no expiry");
  const left = new Date(expiresAt).getTime() - Date.now();
  const days = Math.floor(Math.abs(left) / 86_400_000);
  const plural = (n) => `${n} day${n === 1 ? "" : "s"}`;
  let text;
  let kind = "";
  if (left < 0) {
    text = days ? `expired ${plural(days)} ago` : "expired today";
    kind = "expired";
  } else {
    text = days ? `${plural(days)} left` : "less than a day left";
    if (days < EXPIRY_WARNING_DAYS) kind = "warning";
  }
  return h(
    "span",
    { class: `expiry ${kind}`, title: when(expiresAt), "data-days-left": String(left < 0 ? -days : days) },
    kind === "warning" ? h("span", { "aria-hidden": "true" }, "⚠ ") : null,
    text,
  );
}

export async function renderCustomers(app, params) {
  const group = params.get("group") === "inactive" ? "inactive" : "active";
  const status = params.get("status") || "";
  const q = params.get("q") || "";
  const sort = params.get("sort") || "-created_at";
  const cursor = params.get("cursor") || "";
  const size = PAGE_SIZES.includes(Number(params.get("size"))) ? Number(params.get("size")) : PAGE_SIZES[0];
  if (!cursor) cursors = [];
  const [catalog, page] = await Promise.all([
    loadCatalog(),
    api("GET", "/customers", {
      query: {
        status_group: status ? undefined : group,
        status: status || undefined,
        q,
        sort,
        limit: size,
        cursor,
      },
    }),
  ]);
  const again = () => keepingFocus(() => renderCustomers(app, params));

  const change = (name, value) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("cursor");
    go(next);
  };
  const tabs = tabList(
    [
      ["active", "Active"],
      ["inactive", "Inactive"],
    ],
    group,
    (name) => {
      const next = new URLSearchParams(params);
      next.set("group", name);
      next.delete("status");
      next.delete("cursor");
      go(next);
    },
    { label: "Customer groups", panelId: "customers-panel" },
  );
  const search = h("input", { type: "search", name: "q", value: q, placeholder: "Name, e-mail or login" });
  const statusSelect = applyOnPick(
    h(
      "select",
      { name: "status" },
      options(
        GROUPS[group].map((s) => [s, s]),
        status,
        { blank: `All ${group}` },
      ),
    ),
    (value) => change("status", value),
  );
  const sortSelect = applyOnPick(h("select", { name: "sort" }, options(SORTS, sort)), (value) => change("sort", value));
  const sizeSelect = applyOnPick(
    h("select", { name: "size" }, options(PAGE_SIZES.map((n) => [String(n), String(n)]), String(size))),
    (value) => change("size", value === String(PAGE_SIZES[0]) ? "" : value),
  );
  const addButton = (text = "Add customer", key = "add-customer") =>
    h("button", { type: "button", class: "primary", "data-focus": key, onclick: () => addCustomer(catalog, again) }, text);
  const filters = h(
    "form",
    {
      class: "row",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        const next = new URLSearchParams(params);
        for (const [name, value] of [
          ["q", search.value.trim()],
          ["status", statusSelect.value],
          ["sort", sortSelect.value === "-created_at" ? "" : sortSelect.value],
          ["size", sizeSelect.value === String(PAGE_SIZES[0]) ? "" : sizeSelect.value],
        ]) {
          if (value) next.set(name, value);
          else next.delete(name);
        }
        next.delete("cursor");
        go(next);
      },
    },
    field("Search", search),
    field("Status", statusSelect),
    field("Sort", sortSelect),
    field("Per page", sizeSelect),
    h("button", { type: "submit" }, "Search"),
    h("span", { class: "spacer" }),
    h(
      "button",
      {
        type: "button",
        onclick: () =>
          attempt(() =>
            download(
              "/customers/export.csv",
              { status_group: status ? undefined : group, status: status || undefined, q, sort },
              `customers-${group}.csv`,
            ),
          ),
      },
      "Export CSV",
    ),
    can(SELL) ? addButton() : null,
  );

  // Bulk selection: a checkbox per row; the toolbar acts on the checked customers of this page.
  const selected = new Set();
  const bulkCount = h("span", { role: "status" }, "");
  const bulkBar = h(
    "div",
    { class: "row bulk", role: "group", "aria-label": "Selected customers" },
    bulkCount,
    h("button", { type: "button", "data-focus": "bulk-renew", onclick: () => bulkRenew(catalog, chosen(), again) }, "Renew selected"),
    h("button", { type: "button", "data-focus": "bulk-disable", onclick: () => bulkDisable(chosen(), again) }, "Disable selected"),
    h("button", { type: "button", "data-focus": "bulk-message", onclick: () => bulkMessage(chosen()) }, "Message selected"),
  );
  const chosen = () => page.items.filter((c) => selected.has(c.id));
  const showBulk = () => {
    bulkCount.textContent = selected.size ? `${selected.size} selected` : "Select customers to act on several at once.";
    for (const button of bulkBar.querySelectorAll("button")) button.disabled = selected.size === 0;
    if (selectAll) {
      selectAll.checked = selected.size > 0 && selected.size === page.items.length;
      selectAll.indeterminate = selected.size > 0 && selected.size < page.items.length;
    }
  };
  const bulk = can(SELL) && page.items.length > 0;
  const selectAll = bulk
    ? h("input", {
        type: "checkbox",
        "aria-label": "Select every customer on this page",
        "data-focus": "select-all",
        onchange: (event) => {
          for (const box of app.querySelectorAll("input[data-select]")) {
            box.checked = event.target.checked;
            if (box.checked) selected.add(box.dataset.select);
            else selected.delete(box.dataset.select);
          }
          showBulk();
        },
      })
    : null;

  // A column header sorts by its column; choosing it again reverses the order.
  const sortHeader = (title, key) => {
    const ascending = sort === key;
    const descending = sort === `-${key}`;
    return h(
      "button",
      {
        type: "button",
        class: "sort",
        "data-focus": `sort:${key}`,
        onclick: () => change("sort", ascending ? `-${key}` : key),
      },
      title,
      ascending ? " ▲" : descending ? " ▼" : "",
    );
  };
  const sortState = (key) => (sort === key ? "ascending" : sort === `-${key}` ? "descending" : undefined);
  const columns = [
    ["Name", (c) => h("a", { href: `#/customers/${c.id}/info`, "data-focus": `name:${c.id}` }, fullName(c.info) || c.id), "name"],
    ["Login", "login"],
    ["Status", (c) => badge(c.status), "status"],
    ["Product", (c) => (c.subscription.product_id ? productName(catalog, c.subscription.product_id) : null)],
    [
      "Plan",
      (c) => (c.subscription.plan_id ? planName(catalog, c.subscription.product_id, c.subscription.plan_id) : null),
    ],
    ["Expires", (c) => expiryCell(c.subscription.expires_at), "expires_at"],
    ["Webshop", "webshop_id"],
    ["E-mail", (c) => c.info.email],
    ["Added", (c) => when(c.created_at), "created_at"],
  ];
  let rows;
  if (page.items.length === 0) {
    rows = h(
      "div",
      { class: "empty" },
      q || status
        ? [
            h("p", {}, "No customer matches."),
            h("button", { type: "button", onclick: () => go(new URLSearchParams({ group })) }, "Clear search and filters"),
          ]
        : [
            h("p", {}, group === "active" ? "No active customers yet." : "No inactive customers."),
            can(SELL) && group === "active" ? addButton("Add the first customer", "add-first") : null,
          ],
    );
  } else {
    rows = h(
      "table",
      { class: "customers" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          bulk ? h("th", { scope: "col" }, selectAll) : null,
          columns.map(([title, , key]) =>
            h("th", { scope: "col", "aria-sort": key ? sortState(key) || "none" : undefined }, key ? sortHeader(title, key) : title),
          ),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h(
        "tbody",
        {},
        page.items.map((c) =>
          h(
            "tr",
            { "data-customer": c.id },
            bulk
              ? h(
                  "td",
                  {},
                  h("input", {
                    type: "checkbox",
                    "data-select": c.id,
                    "data-focus": `select:${c.id}`,
                    "aria-label": `Select ${fullName(c.info) || c.login}`,
                    onchange: (event) => {
                      if (event.target.checked) selected.add(c.id);
                      else selected.delete(c.id);
                      showBulk();
                    },
                  }),
                )
              : null,
            columns.map(([title, key]) => h("td", { "data-label": title }, cellOf(key, c))),
            h(
              "td",
              { class: "actions" },
              h("a", { class: "button", href: `#/customers/${c.id}/info`, "data-focus": `details:${c.id}` }, "Details"),
              can(SELL)
                ? h("button", { type: "button", "data-focus": `renew:${c.id}`, onclick: () => renew(catalog, c, again) }, "Renew")
                : null,
              can(SELL)
                ? h("button", { type: "button", "data-focus": `change:${c.id}`, onclick: () => changeSubscription(catalog, c, again) }, "Change")
                : null,
            ),
          ),
        ),
      ),
    );
  }

  const pager = h(
    "div",
    { class: "pager" },
    page.total !== undefined && page.total !== null ? h("span", { class: "muted" }, `${page.total} in all`) : null,
    h(
      "button",
      {
        type: "button",
        "data-focus": "previous",
        disabled: !cursor,
        onclick: () => {
          const next = new URLSearchParams(params);
          const previous = cursors.pop();
          if (previous) next.set("cursor", previous);
          else next.delete("cursor");
          go(next, { keepCursors: true });
        },
      },
      "Previous",
    ),
    h(
      "button",
      {
        type: "button",
        "data-focus": "next",
        disabled: !page.next_cursor,
        onclick: () => {
          cursors.push(cursor);
          const next = new URLSearchParams(params);
          next.set("cursor", page.next_cursor);
          go(next, { keepCursors: true });
        },
      },
      "Next",
    ),
  );
  clear(
    app,
    h("h1", {}, "Customers"),
    tabs,
    h(
      "div",
      // data-query says which filters this drawing shows, for tests to wait on.
      { id: "customers-panel", role: "tabpanel", "aria-labelledby": `customers-panel-tab-${group}`, "data-query": params.toString() },
      h("div", { class: "card" }, filters),
      h("div", { class: "card" }, bulk ? bulkBar : null, h("div", { class: "scroll" }, rows), pager),
    ),
  );
  if (bulk) showBulk();
}

function cellOf(key, item) {
  const value = typeof key === "function" ? key(item) : item[key];
  if (value instanceof Node) return value;
  if (value === null || value === undefined || value === "") return "—";
  return String(value);
}

/** Runs `action` for each customer in turn and reports how many succeeded and which failed. */
async function forEachCustomer(customers, verb, action) {
  const failures = [];
  for (const customer of customers) {
    try {
      await action(customer);
    } catch (problem) {
      failures.push(`${fullName(customer.info) || customer.login}: ${problem.message}`);
    }
  }
  const done = customers.length - failures.length;
  const text = `${verb} ${done} of ${customers.length}.` + (failures.length ? ` Failed: ${failures.join("; ")}` : "");
  flash(text, failures.length ? "error" : "info");
}

function bulkRenew(catalog, customers, done) {
  const renewable = customers.filter((c) => c.subscription && c.subscription.product_id);
  const skipped = customers.length - renewable.length;
  dialog(
    `Renew ${customers.length} customers`,
    [
      h("p", {}, "Each is renewed on their own product, plan and extras, from their current expiry (or from now if expired)."),
      skipped ? h("p", { class: "error-text" }, `${skipped} without a subscription will be skipped.`) : null,
      h(
        "ul",
        {},
        renewable.map((c) =>
          h("li", {}, `${fullName(c.info) || c.login}: ${productName(catalog, c.subscription.product_id)}, ${planName(catalog, c.subscription.product_id, c.subscription.plan_id)}`),
        ),
      ),
    ],
    async () => {
      await forEachCustomer(renewable, "Renewed", (c) =>
        api("POST", `/customers/${c.id}/subscription/renew`, {
          body: {
            product_id: c.subscription.product_id,
            plan_id: c.subscription.plan_id,
            extra_product_ids: c.subscription.extra_product_ids || [],
          },
        }),
      );
      await done();
    },
    { saveLabel: "Renew all" },
  );
}

function bulkDisable(customers, done) {
  dialog(
    `Disable ${customers.length} customers`,
    h("p", {}, "Their accounts are disabled and their apps log them out. Enable each again from its Account tab."),
    async () => {
      await forEachCustomer(customers, "Disabled", (c) => api("PATCH", `/customers/${c.id}/account`, { body: { disabled: true } }));
      await done();
    },
    { saveLabel: "Disable all", danger: true },
  );
}

function bulkMessage(customers) {
  const title = h("input", { name: "message_title", required: true, maxlength: 200 });
  const body = h("textarea", { name: "message_body", required: true, maxlength: 4000 });
  dialog(
    `Message ${customers.length} customers`,
    [field("Title", title), field("Message", body), h("p", { class: "muted" }, "Sent to every device of each customer.")],
    async () => {
      await forEachCustomer(customers, "Sent to", (c) =>
        api("POST", `/customers/${c.id}/messages`, { body: { title: title.value, body: body.value, device_id: null } }),
      );
    },
    { saveLabel: "Send" },
  );
}

/** Product, plan and extras pickers that follow each other (a plan belongs to its product). */
export function saleFields(
  catalog,
  { webshopId, productId, planId, extraIds = [], fixedProduct = false, allowRepeatTrial = false },
) {
  const product = h("select", { name: "product_id", required: true, disabled: fixedProduct });
  // A trial is sold once per customer; an admin may sell it again (renew and change only).
  const repeatTrial = h("input", { type: "checkbox", name: "repeat_trial" });
  const repeatTrialField = h(
    "label",
    { class: "inline", hidden: true },
    repeatTrial,
    "Sell this trial again even if the customer had it (admin)",
  );
  const plan = h("select", { name: "plan_id", required: true });
  const extras = h("div", { class: "grid" });
  let currencies = [];
  const fillPlans = () => {
    const chosen = catalog.products.find((p) => p.id === product.value);
    clear(
      plan,
      options((chosen ? chosen.plans.filter((p) => !p.archived) : []).map((p) => [p.id, planLabel(p, currencies)]), planId),
    );
    repeatTrialField.hidden = !(allowRepeatTrial && can(REPEAT_TRIAL) && chosen?.subscription_type === "trial");
    if (repeatTrialField.hidden) repeatTrial.checked = false;
  };
  const fillProducts = (shopId) => {
    currencies = catalog.webshops.find((w) => w.id === shopId)?.currencies || [];
    const list = fixedProduct ? catalog.products.filter((p) => p.id === productId) : baseProducts(catalog, shopId);
    clear(product, options(list.map((p) => [p.id, `${p.name} (${p.max_devices} devices)`]), productId));
    fillPlans();
  };
  product.addEventListener("change", fillPlans);
  for (const extra of extraProducts(catalog)) {
    extras.append(
      h(
        "label",
        { class: "inline" },
        h("input", { type: "checkbox", name: "extra", value: extra.id, checked: extraIds.includes(extra.id) }),
        extra.name,
      ),
    );
  }
  fillProducts(webshopId);
  const picked = () => ({
    product_id: product.value,
    plan_id: plan.value,
    extra_product_ids: [...extras.querySelectorAll("input[name=extra]:checked")].map((box) => box.value),
    ...(repeatTrial.checked ? { repeat_trial: true } : {}),
  });
  return {
    element: h(
      "fieldset",
      {},
      h("legend", {}, "Product"),
      h("div", { class: "grid" }, field("Base product", product), field("Plan", plan)),
      repeatTrialField,
      extraProducts(catalog).length ? h("fieldset", {}, h("legend", {}, "Extras"), extras) : null,
    ),
    fillProducts,
    picked,
  };
}

const INFO_FIELDS = [
  ["first_name", "First name", true],
  ["last_name", "Last name", true],
  ["email", "E-mail", false, "email"],
  ["phone", "Phone", false, "tel"],
  ["mobile", "Mobile", false, "tel"],
  ["street", "Street", false],
  ["zip", "ZIP", false],
  ["city", "City", false],
  ["country", "Country", false, "country"],
  ["comments", "Comments", false],
];

function countrySelect(current) {
  const list = countries();
  // A code stored before the console offered the list stays choosable rather than lost.
  if (current && !isCountry(current)) list.unshift([current, current]);
  return h("select", { name: "country" }, options(list, current || "", { blank: "—" }));
}

export function infoFields(info = {}) {
  return h(
    "div",
    { class: "grid" },
    INFO_FIELDS.map(([name, label, required, type]) =>
      field(
        label,
        type === "country"
          ? countrySelect(info[name])
          : h("input", { name, type: type || "text", required, value: info[name] || "", autocomplete: AUTOCOMPLETE[name] }),
      ),
    ),
  );
}

const AUTOCOMPLETE = {
  first_name: "off",
  last_name: "off",
  email: "off",
};

export function readInfo(form, { keepEmpty = false } = {}) {
  const info = {};
  for (const [name] of INFO_FIELDS) {
    const value = form.elements[name].value.trim();
    if (value || keepEmpty) info[name] = value || null;
  }
  return info;
}

function addCustomer(catalog, done) {
  const webshop = h(
    "select",
    { name: "webshop_id", required: true },
    options(catalog.webshops.map((w) => [w.id, `${w.name} (${w.currencies.join(", ")})`])),
  );
  const sale = saleFields(catalog, { webshopId: catalog.webshops[0]?.id });
  webshop.addEventListener("change", () => sale.fillProducts(webshop.value));
  const custom = h("input", { type: "checkbox", name: "custom_credentials", role: "switch" });
  const login = h("input", { name: "login", minlength: 3, maxlength: 64, autocomplete: "off" });
  const password = h("input", { name: "password", minlength: 6, maxlength: 128, autocomplete: "new-password" });
  const credentials = h("div", { class: "grid", hidden: true }, field("Login", login), field("Password", password));
  custom.addEventListener("change", () => {
    credentials.hidden = !custom.checked;
    login.required = password.required = custom.checked;
  });
  const payment = paymentFields();
  dialog(
    "Add customer",
    [
      h("fieldset", {}, h("legend", {}, "Webshop"), field("Webshop", webshop)),
      sale.element,
      payment.element,
      h("fieldset", {}, h("legend", {}, "Personal data"), infoFields()),
      h(
        "fieldset",
        {},
        h("legend", {}, "Authentication"),
        h("label", { class: "inline switch" }, custom, "Custom login and password (off: generated and shown once)"),
        credentials,
      ),
    ],
    async (form) => {
      const created = await api("POST", "/customers", {
        body: {
          webshop_id: webshop.value,
          ...sale.picked(),
          info: readInfo(form),
          credentials: custom.checked ? { login: login.value, password: password.value } : null,
          payment: payment.picked(),
        },
      });
      showCreated(created, done);
    },
  );
}

/**
 * The credentials, shown once, with the customer's status as it is now: billing opens the
 * subscription a moment after the add, so the status is read again until it settles, and the
 * list behind is refreshed when the dialog closes, so both say the same.
 */
function showCreated(created, done) {
  const status = badge(created.status);
  const secrets = [["Login", created.login, "login"]];
  if (created.password) secrets.push(["Password", created.password, "password"]);
  let open = true;
  const box = secretDialog(
    "Customer added",
    [
      h("p", {}, `${fullName(created.info)} was added. Status: `, status),
      created.password ? h("p", { class: "muted" }, "The password is shown this once: give it to the customer now.") : null,
    ],
    secrets,
    {
      extra: h("p", {}, h("a", { href: `#/customers/${created.id}/info`, onclick: () => box.close() }, "Open their details")),
      onClose: async () => {
        open = false;
        if (done && location.hash.startsWith("#/customers") && !location.hash.startsWith(`#/customers/${created.id}`)) {
          await done();
        }
      },
    },
  );
  const follow = async (tries) => {
    if (!open || tries <= 0) return;
    try {
      const now = await api("GET", `/customers/${created.id}`);
      status.className = `badge ${now.status}`;
      status.textContent = now.status;
      if (now.status !== "pending") return;
    } catch {
      return;
    }
    setTimeout(() => follow(tries - 1), 1000);
  };
  setTimeout(() => follow(20), 500);
}

export function renew(catalog, customer, done) {
  const summary = customer.subscription || {};
  if (!summary.product_id) {
    sell(catalog, customer, done);
    return;
  }
  const sale = saleFields(catalog, {
    webshopId: customer.webshop_id,
    productId: summary.product_id,
    planId: summary.plan_id,
    extraIds: summary.extra_product_ids || [],
    fixedProduct: true,
    allowRepeatTrial: true,
  });
  const payment = paymentFields();
  dialog(
    `Renew ${fullName(customer.info)}`,
    [h("p", { class: "muted" }, `Adds the plan's length from the current expiry (${when(summary.expires_at)}), or from now if expired.`), sale.element, payment.element],
    async () => {
      const result = await api("POST", `/customers/${customer.id}/subscription/renew`, {
        body: { ...sale.picked(), payment: payment.picked() },
      });
      if (done) await attempt(done);
      flash(`Renewed: expires ${when(result?.subscription?.expires_at)}.`);
    },
    { saveLabel: "Renew" },
  );
}

export function changeSubscription(catalog, customer, done) {
  const summary = customer.subscription || {};
  const sale = saleFields(catalog, {
    webshopId: customer.webshop_id,
    productId: summary.product_id,
    planId: summary.plan_id,
    extraIds: summary.extra_product_ids || [],
    allowRepeatTrial: true,
  });
  const starts = h(
    "select",
    { name: "starts" },
    options([
      ["now", "Now (unused time credited)"],
      ["at_expiry", "At the current expiry"],
    ]),
  );
  const payment = paymentFields();
  dialog(
    `Change ${fullName(customer.info)}'s subscription`,
    [sale.element, field("Starts", starts), payment.element],
    async () => {
      const result = await api("POST", `/customers/${customer.id}/subscription/change`, {
        body: { ...sale.picked(), starts: starts.value, payment: payment.picked() },
      });
      if (done) await attempt(done);
      flash(`Changed (${result?.action || "done"}).`);
    },
    { saveLabel: "Change" },
  );
}
