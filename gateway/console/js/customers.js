// The Customers page: Active/Inactive tabs, status filter, search, sort, pages; Add customer;
// Renew and Change in each row.

import { api, download } from "./api.js";
import { baseProducts, extraProducts, loadCatalog, planLabel, planName, productName } from "./catalog.js";
import { paymentFields, sell } from "./selling.js";
import { SELL, can } from "./session.js";
import { attempt, badge, clear, dialog, field, flash, fullName, h, options, table, when } from "./ui.js";

const PAGE_SIZE = 20;
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
];

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

export async function renderCustomers(app, params) {
  const group = params.get("group") === "inactive" ? "inactive" : "active";
  const status = params.get("status") || "";
  const q = params.get("q") || "";
  const sort = params.get("sort") || "-created_at";
  const cursor = params.get("cursor") || "";
  if (!cursor) cursors = [];
  const [catalog, page] = await Promise.all([
    loadCatalog(),
    api("GET", "/customers", {
      query: {
        status_group: status ? undefined : group,
        status: status || undefined,
        q,
        sort,
        limit: PAGE_SIZE,
        cursor,
      },
    }),
  ]);

  const change = (name, value) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("cursor");
    go(next);
  };
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    Object.keys(GROUPS).map((name) =>
      h(
        "button",
        {
          role: "tab",
          type: "button",
          "aria-selected": String(name === group),
          onclick: () => {
            const next = new URLSearchParams(params);
            next.set("group", name);
            next.delete("status");
            next.delete("cursor");
            go(next);
          },
        },
        name === "active" ? "Active" : "Inactive",
      ),
    ),
  );
  const search = h("input", { type: "search", name: "q", value: q, placeholder: "Name, e-mail or login" });
  const filters = h(
    "form",
    {
      class: "row",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        change("q", search.value.trim());
      },
    },
    field("Search", search),
    field(
      "Status",
      h(
        "select",
        { name: "status", onchange: (event) => change("status", event.target.value) },
        options(
          GROUPS[group].map((s) => [s, s]),
          status,
          { blank: `All ${group}` },
        ),
      ),
    ),
    field(
      "Sort",
      h("select", { name: "sort", onchange: (event) => change("sort", event.target.value) }, options(SORTS, sort)),
    ),
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
    can(SELL) ? h("button", { type: "button", class: "primary", onclick: () => addCustomer(catalog) }, "Add customer") : null,
  );

  const rows = table(
    page.items,
    [
      ["Name", (c) => h("a", { href: `#/customers/${c.id}/info` }, fullName(c.info) || c.id)],
      ["Login", "login"],
      ["Status", (c) => badge(c.status)],
      ["Product", (c) => (c.subscription.product_id ? productName(catalog, c.subscription.product_id) : null)],
      [
        "Plan",
        (c) => (c.subscription.plan_id ? planName(catalog, c.subscription.product_id, c.subscription.plan_id) : null),
      ],
      ["Expires", (c) => when(c.subscription.expires_at)],
      ["Webshop", "webshop_id"],
      ["E-mail", (c) => c.info.email],
    ],
    (c) => [
      h("a", { class: "button", href: `#/customers/${c.id}/info` }, "Details"),
      can(SELL)
        ? h("button", { type: "button", onclick: () => renew(catalog, c, () => renderCustomers(app, params)) }, "Renew")
        : null,
      can(SELL)
        ? h("button", { type: "button", onclick: () => changeSubscription(catalog, c, () => renderCustomers(app, params)) }, "Change")
        : null,
    ],
    q || status ? "No customer matches." : "No customers in this group yet.",
  );

  const pager = h(
    "div",
    { class: "pager" },
    page.total !== undefined && page.total !== null ? h("span", { class: "muted" }, `${page.total} in all`) : null,
    h(
      "button",
      {
        type: "button",
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
  clear(app, h("h1", {}, "Customers"), tabs, h("div", { class: "card" }, filters), h("div", { class: "card" }, rows, pager));
}

/** Product, plan and extras pickers that follow each other (a plan belongs to its product). */
export function saleFields(catalog, { webshopId, productId, planId, extraIds = [], fixedProduct = false }) {
  const product = h("select", { name: "product_id", required: true, disabled: fixedProduct });
  const plan = h("select", { name: "plan_id", required: true });
  const extras = h("div", { class: "grid" });
  const fillPlans = () => {
    const chosen = catalog.products.find((p) => p.id === product.value);
    clear(plan, options((chosen ? chosen.plans.filter((p) => !p.archived) : []).map((p) => [p.id, planLabel(p)]), planId));
  };
  const fillProducts = (shopId) => {
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
  });
  return {
    element: h(
      "fieldset",
      {},
      h("legend", {}, "Product"),
      h("div", { class: "grid" }, field("Base product", product), field("Plan", plan)),
      extraProducts(catalog).length ? [h("h3", {}, "Extras"), extras] : null,
    ),
    fillProducts,
    picked,
  };
}

const INFO_FIELDS = [
  ["first_name", "First name", true],
  ["last_name", "Last name", true],
  ["email", "E-mail", false, "email"],
  ["phone", "Phone", false],
  ["mobile", "Mobile", false],
  ["street", "Street", false],
  ["zip", "ZIP", false],
  ["city", "City", false],
  ["country", "Country (2 letters)", false],
  ["comments", "Comments", false],
];

export function infoFields(info = {}) {
  return h(
    "div",
    { class: "grid" },
    INFO_FIELDS.map(([name, label, required, type]) =>
      field(label, h("input", { name, type: type || "text", required, value: info[name] || "", maxlength: name === "country" ? 2 : undefined })),
    ),
  );
}

export function readInfo(form, { keepEmpty = false } = {}) {
  const info = {};
  for (const [name] of INFO_FIELDS) {
    const value = form.elements[name].value.trim();
    if (value || keepEmpty) info[name] = value || null;
  }
  return info;
}

function addCustomer(catalog) {
  const webshop = h(
    "select",
    { name: "webshop_id", required: true },
    options(catalog.webshops.map((w) => [w.id, w.name])),
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
      showCreated(created);
    },
  );
}

function showCreated(created) {
  const body = [
    h("p", {}, `${fullName(created.info)} was added (status ${created.status}).`),
    h("dl", { class: "kv" }, h("dt", {}, "Login"), h("dd", { class: "secret", "data-secret": "login" }, created.login)),
  ];
  if (created.password) {
    body.push(
      h("dl", { class: "kv" }, h("dt", {}, "Password"), h("dd", { class: "secret", "data-secret": "password" }, created.password)),
      h("p", { class: "muted" }, "The password is shown this once: give it to the customer now."),
    );
  }
  dialog("Customer added", body, async () => {
    location.hash = `#/customers/${created.id}/info`;
  }, { saveLabel: "Open details" });
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
