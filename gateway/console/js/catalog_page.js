// The Catalog page: webshops, base and extra products with their payment plans. Everyone who
// may read the catalog sees it; admins (catalog:write) add, edit and archive. Nothing is ever
// deleted: an archived webshop, product or plan sells nothing more, running subscriptions go on.

import { api } from "./api.js";
import { forgetCatalog } from "./catalog.js";
import { can } from "./session.js";
import { badge, clear, dialog, field, flash, h, keepingFocus, options, table, when } from "./ui.js";

const UNITS = ["days", "weeks", "months", "years"].map((u) => [u, u]);
const EDIT = "catalog:write";

export async function renderCatalog(app, params) {
  const showArchived = params.get("archived") === "1";
  const [shops, products] = await Promise.all([api("GET", "/webshops"), api("GET", "/products")]);
  const again = () => {
    forgetCatalog();
    return keepingFocus(() => renderCatalog(app, params));
  };
  const visible = (item) => showArchived || !item.archived;
  const editable = can(EDIT);
  const archivedToggle = h("input", {
    type: "checkbox",
    name: "show_archived",
    checked: showArchived,
    onchange: (event) => (location.hash = event.target.checked ? "#/catalog?archived=1" : "#/catalog"),
  });
  const state = (item) => (item.archived ? badge("archived") : badge("ok"));
  const archiveButton = (what, name, url, key) =>
    h(
      "button",
      {
        type: "button",
        class: "danger",
        "data-focus": key,
        onclick: () =>
          dialog(
            `Archive ${what}`,
            h("p", {}, `Archive ${name}? It can no longer be sold; customers who have it keep it. Archiving cannot be undone here.`),
            async () => {
              await api("DELETE", url);
              flash(`${name} archived.`);
              await again();
            },
            { saveLabel: "Archive", danger: true },
          ),
      },
      "Archive",
    );

  const shopRows = table(
    shops.items.filter(visible),
    [
      ["Id", "id"],
      ["Name", "name"],
      ["Currencies", (w) => w.currencies.join(", ")],
      ["Products", (w) => (w.product_ids.length ? w.product_ids.join(", ") : "every base product")],
      ["State", state],
    ],
    editable
      ? (w) =>
          w.archived
            ? null
            : [
                h("button", { type: "button", "data-focus": `edit-shop:${w.id}`, onclick: () => webshopDialog(products.items, w, again) }, "Edit"),
                archiveButton("webshop", w.name, `/webshops/${encodeURIComponent(w.id)}`, `archive-shop:${w.id}`),
              ]
      : null,
    editable ? "No webshops yet: add the first one." : "No webshops yet.",
  );

  const productSections = ["base", "extra"].map((kind) =>
    h(
      "section",
      { class: "card", "aria-label": kind === "base" ? "Base products" : "Extra products" },
      h(
        "div",
        { class: "row" },
        h("h2", {}, kind === "base" ? "Base products" : "Extra products"),
        h("span", { class: "spacer" }),
        editable
          ? h("button", { type: "button", "data-focus": `add-product:${kind}`, onclick: () => productDialog(kind, null, again) }, kind === "base" ? "Add base product" : "Add extra product")
          : null,
      ),
      productsOf(products.items.filter((p) => p.kind === kind && visible(p)), { editable, showArchived, again, archiveButton, state }),
    ),
  );

  clear(
    app,
    h("h1", {}, "Catalog"),
    h("div", { class: "card" }, h("label", { class: "inline" }, archivedToggle, "Show archived webshops, products and plans")),
    h(
      "section",
      { class: "card", "aria-label": "Webshops" },
      h(
        "div",
        { class: "row" },
        h("h2", {}, "Webshops"),
        h("span", { class: "spacer" }),
        editable ? h("button", { type: "button", "data-focus": "add-shop", onclick: () => webshopDialog(products.items, null, again) }, "Add webshop") : null,
      ),
      shopRows,
    ),
    productSections,
  );
}

function productsOf(products, { editable, showArchived, again, archiveButton, state }) {
  if (!products.length) return h("p", { class: "muted empty" }, editable ? "None yet: add one with the button above." : "None yet.");
  return products.map((product) =>
    h(
      "article",
      { class: "product", "aria-label": product.name },
      h(
        "div",
        { class: "row" },
        h("h3", {}, `${product.name} `, h("span", { class: "muted" }, `(${product.id})`), " ", state(product)),
        h("span", { class: "spacer" }),
        editable && !product.archived
          ? [
              h("button", { type: "button", "data-focus": `edit-product:${product.id}`, onclick: () => productDialog(product.kind, product, again) }, "Edit product"),
              h("button", { type: "button", "data-focus": `add-plan:${product.id}`, onclick: () => planDialog(product, null, again) }, "Add plan"),
              archiveButton("product", product.name, `/products/${encodeURIComponent(product.id)}`, `archive-product:${product.id}`),
            ]
          : null,
      ),
      h(
        "p",
        { class: "muted" },
        `${product.subscription_type} · ${product.max_devices} devices` +
          (product.device_policy ? ` (${product.device_policy})` : "") +
          (product.starts_on_first_login ? " · starts on first login" : "") +
          (product.packages.length ? ` · packages ${product.packages.join(", ")}` : ""),
      ),
      table(
        product.plans.filter((plan) => showArchived || !plan.archived),
        [
          ["Plan", (plan) => `${plan.name} (${plan.id})`],
          ["Length", (plan) => `${plan.length} ${plan.unit}`],
          ["Prices", (plan) => Object.entries(plan.prices).map(([c, a]) => `${a} ${c}`).join(", ")],
          ["State", (plan) => (plan.archived ? [badge("archived"), " ", when(plan.archived_at)] : badge("ok"))],
        ],
        editable && !product.archived
          ? (plan) =>
              plan.archived
                ? null
                : [
                    h("button", { type: "button", "data-focus": `edit-plan:${product.id}:${plan.id}`, onclick: () => planDialog(product, plan, again) }, "Edit plan"),
                    archiveButton(
                      "plan",
                      `${product.name}, ${plan.name}`,
                      `/products/${encodeURIComponent(product.id)}/plans/${encodeURIComponent(plan.id)}`,
                      `archive-plan:${product.id}:${plan.id}`,
                    ),
                  ]
          : null,
        "No plans.",
      ),
    ),
  );
}

const ID_HELP = "Letters, digits, . _ - ; fixed once created.";
const ID_PATTERN = "[A-Za-z0-9._\\-]{1,64}";

function list(text) {
  return text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

function webshopDialog(products, shop, done) {
  const id = h("input", { name: "webshop_id", required: true, pattern: ID_PATTERN, value: shop?.id || "", disabled: Boolean(shop) });
  const name = h("input", { name: "webshop_name", required: true, maxlength: 200, value: shop?.name || "" });
  const currencies = h("input", {
    name: "currencies",
    required: true,
    pattern: "\\s*[A-Za-z]{3}(\\s*[, ]\\s*[A-Za-z]{3})*\\s*",
    value: shop ? shop.currencies.join(", ") : "EUR",
  });
  const base = products.filter((p) => p.kind === "base" && !p.archived);
  const offered = h(
    "fieldset",
    {},
    h("legend", {}, "Products it sells (none ticked: every base product)"),
    h(
      "div",
      { class: "grid" },
      base.map((p) =>
        h("label", { class: "inline" }, h("input", { type: "checkbox", name: "offers", value: p.id, checked: Boolean(shop?.product_ids.includes(p.id)) }), p.name),
      ),
    ),
  );
  dialog(
    shop ? `Edit webshop ${shop.name}` : "Add webshop",
    [
      shop ? null : field("Id", id),
      shop ? null : h("p", { class: "muted" }, ID_HELP),
      field("Name", name),
      field("Currencies (ISO codes, comma separated)", currencies),
      offered,
    ],
    async () => {
      const body = {
        name: name.value.trim(),
        currencies: list(currencies.value).map((c) => c.toUpperCase()),
        product_ids: [...offered.querySelectorAll("input[name=offers]:checked")].map((box) => box.value),
      };
      if (shop) await api("PATCH", `/webshops/${encodeURIComponent(shop.id)}`, { body });
      else await api("POST", "/webshops", { body: { id: id.value.trim(), ...body } });
      flash(shop ? "Webshop saved." : "Webshop added.");
      await done();
    },
  );
}

function pricesField(prices) {
  return h("input", {
    name: "prices",
    required: true,
    placeholder: "9.99 EUR, 10.99 USD",
    pattern: "\\s*\\d+(\\.\\d{1,2})?\\s+[A-Za-z]{3}(\\s*,\\s*\\d+(\\.\\d{1,2})?\\s+[A-Za-z]{3})*\\s*",
    value: prices ? Object.entries(prices).map(([c, a]) => `${a} ${c}`).join(", ") : "",
  });
}

function readPrices(input) {
  const prices = {};
  for (const part of input.value.split(",")) {
    const [amount, currency] = part.trim().split(/\s+/);
    if (amount && currency) prices[currency.toUpperCase()] = amount;
  }
  return prices;
}

function planInputs(plan) {
  return {
    id: h("input", { name: "plan_id", required: true, pattern: ID_PATTERN, value: plan?.id || "" }),
    name: h("input", { name: "plan_name", required: true, maxlength: 200, value: plan?.name || "" }),
    length: h("input", { name: "plan_length", type: "number", required: true, min: 1, max: 3650, value: plan ? String(plan.length) : "1" }),
    unit: h("select", { name: "plan_unit", required: true }, options(UNITS, plan?.unit || "months")),
    prices: pricesField(plan?.prices),
  };
}

function planBody(inputs) {
  return {
    id: inputs.id.value.trim(),
    name: inputs.name.value.trim(),
    length: Number(inputs.length.value),
    unit: inputs.unit.value,
    prices: readPrices(inputs.prices),
  };
}

function productDialog(kind, product, done) {
  const id = h("input", { name: "product_id", required: true, pattern: ID_PATTERN });
  const name = h("input", { name: "product_name", required: true, maxlength: 200, value: product?.name || "" });
  const type = h("select", { name: "subscription_type", disabled: Boolean(product) }, options([["regular", "regular"], ["trial", "trial"]], product?.subscription_type || "regular"));
  const devices = h("input", { name: "max_devices", type: "number", required: true, min: 0, max: 100, value: String(product?.max_devices ?? (kind === "base" ? 2 : 0)) });
  const policy = h("select", { name: "device_policy" }, options([["reject", "reject the new device"], ["evict_oldest", "log out the oldest"]], product?.device_policy || "", { blank: "service default" }));
  const firstLogin = h("input", { type: "checkbox", name: "starts_on_first_login", checked: Boolean(product?.starts_on_first_login) });
  const packages = h("input", { name: "packages", value: product ? product.packages.join(", ") : "", placeholder: "news, sports" });
  const plan = planInputs(null);
  const fields = [
    product ? null : [field("Id", id), h("p", { class: "muted" }, ID_HELP)],
    h("div", { class: "grid" }, field("Name", name), field("Subscription type", type), field("Max devices", devices), field("Beyond the limit", policy), field("Packages (comma separated)", packages)),
    h("label", { class: "inline" }, firstLogin, "The subscription starts on the customer's first login"),
    product
      ? null
      : h(
          "fieldset",
          {},
          h("legend", {}, "First payment plan"),
          h("div", { class: "grid" }, field("Plan id", plan.id), field("Plan name", plan.name), field("Length", plan.length), field("Unit", plan.unit), field("Prices (amount currency, …)", plan.prices)),
        ),
  ];
  dialog(product ? `Edit ${product.name}` : kind === "base" ? "Add base product" : "Add extra product", fields, async () => {
    const body = {
      name: name.value.trim(),
      max_devices: Number(devices.value),
      device_policy: policy.value || null,
      starts_on_first_login: firstLogin.checked,
      packages: list(packages.value),
    };
    if (product) {
      await api("PATCH", `/products/${encodeURIComponent(product.id)}`, { body });
      flash("Product saved.");
    } else {
      await api("POST", "/products", {
        body: { id: id.value.trim(), kind, subscription_type: type.value, ...body, plans: [planBody(plan)] },
      });
      flash("Product added.");
    }
    await done();
  });
}

function planDialog(product, plan, done) {
  const inputs = planInputs(plan);
  if (plan) inputs.id.disabled = inputs.length.disabled = inputs.unit.disabled = true;
  dialog(
    plan ? `Edit plan ${plan.name}` : `Add a plan to ${product.name}`,
    [
      h(
        "div",
        { class: "grid" },
        field("Plan id", inputs.id),
        field("Name", inputs.name),
        field("Length", inputs.length),
        field("Unit", inputs.unit),
        field("Prices (amount currency, …)", inputs.prices),
      ),
      plan ? h("p", { class: "muted" }, "Length and unit are what subscriptions were sold on: add a new plan to change them.") : null,
    ],
    async () => {
      const base = `/products/${encodeURIComponent(product.id)}/plans`;
      if (plan) {
        await api("PATCH", `${base}/${encodeURIComponent(plan.id)}`, {
          body: { name: inputs.name.value.trim(), prices: readPrices(inputs.prices) },
        });
        flash("Plan saved.");
      } else {
        await api("POST", base, { body: planBody(inputs) });
        flash("Plan added.");
      }
      await done();
    },
  );
}
