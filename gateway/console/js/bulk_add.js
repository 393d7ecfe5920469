// Bulk add: numbered customers on one sale, run as a job by the customers service. Start the
// job, watch its progress, then collect the generated credentials: the service hands each
// password out once, so they are shown here once, to copy or save as a file before leaving.

import { api } from "./api.js";
import { loadCatalog } from "./catalog.js";
import { countries } from "./countries.js";
import { saleFields } from "./customers.js";
import { badge, clear, field, flash, h, keepingFocus, options, secretDialog, table, when } from "./ui.js";

// The jobs started in this browser tab, newest first, so their pages can be found again.
const RECENT = "tvcm.batches";

function recentJobs() {
  try {
    return JSON.parse(sessionStorage.getItem(RECENT) || "[]");
  } catch {
    return [];
  }
}

function remember(batch) {
  const jobs = [{ id: batch.id, label: `${batch.count} × ${batch.first_name}` }, ...recentJobs().filter((j) => j.id !== batch.id)];
  sessionStorage.setItem(RECENT, JSON.stringify(jobs.slice(0, 10)));
}

export async function renderBulkAdd(app, batchId) {
  if (batchId) return renderJob(app, batchId);
  const catalog = await loadCatalog();
  const webshop = h("select", { name: "webshop_id", required: true }, options(catalog.webshops.map((w) => [w.id, `${w.name} (${w.currencies.join(", ")})`])));
  const sale = saleFields(catalog, { webshopId: catalog.webshops[0]?.id });
  webshop.addEventListener("change", () => sale.fillProducts(webshop.value));
  const count = h("input", { name: "count", type: "number", required: true, min: 1, max: 10000, value: "10" });
  const first = h("input", { name: "first_number", type: "number", required: true, min: 0, value: "1" });
  const digits = h("input", { name: "digits", type: "number", min: 1, max: 10, placeholder: "as the last number" });
  const firstName = h("input", { name: "first_name", required: true, maxlength: 100, placeholder: "Hotel Aurora" });
  const lastName = h("input", { name: "last_name_prefix", maxlength: 80, placeholder: "Room " });
  const loginPrefix = h("input", { name: "login_prefix", pattern: "[A-Za-z0-9._@+\\-]{1,50}", placeholder: "empty: numeric logins are generated" });
  const country = h("select", { name: "country" }, options(countries(), "", { blank: "—" }));
  const error = h("p", { class: "error-text", role: "alert" });
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        try {
          const batch = await api("POST", "/customer-batches", {
            body: {
              webshop_id: webshop.value,
              ...sale.picked(),
              count: Number(count.value),
              first_number: Number(first.value),
              digits: digits.value ? Number(digits.value) : null,
              first_name: firstName.value.trim(),
              last_name_prefix: lastName.value,
              login_prefix: loginPrefix.value.trim() || null,
              country: country.value || null,
            },
          });
          remember(batch);
          location.hash = `#/bulk/${batch.id}`;
        } catch (problem) {
          error.textContent = problem.message;
        }
      },
    },
    h("fieldset", {}, h("legend", {}, "Webshop"), field("Webshop", webshop)),
    sale.element,
    h(
      "fieldset",
      {},
      h("legend", {}, "Customers"),
      h(
        "div",
        { class: "grid" },
        field("How many", count),
        field("First number", first),
        field("Digits (zero-padded)", digits),
        field("First name", firstName),
        field("Last name before the number", lastName),
        field("Login before the number", loginPrefix),
        field("Country", country),
      ),
      h("p", { class: "muted" }, "Customer n is named “first name” and “last name prefix + n”; passwords are always generated."),
    ),
    h("p", { class: "muted required-note" }, "Fields marked * are required."),
    error,
    h("p", {}, h("button", { type: "submit", class: "primary" }, "Start job")),
  );
  const jobs = recentJobs();
  clear(
    app,
    h("h1", {}, "Bulk add"),
    h("section", { class: "card", "aria-label": "New job" }, form),
    h(
      "section",
      { class: "card", "aria-label": "Jobs started here" },
      h("h2", {}, "Jobs started in this tab"),
      jobs.length
        ? h("ul", {}, jobs.map((j) => h("li", {}, h("a", { href: `#/bulk/${j.id}` }, j.label))))
        : h("p", { class: "muted empty" }, "None yet: fill in the form above and start one."),
    ),
  );
}

async function renderJob(app, batchId) {
  const batch = await api("GET", `/customer-batches/${encodeURIComponent(batchId)}`);
  const done = batch.created + batch.failed;
  const collect = h(
    "button",
    { type: "button", class: "primary", "data-focus": "collect", disabled: batch.status !== "completed", onclick: () => collectCredentials(batch) },
    "Collect credentials",
  );
  clear(
    app,
    h("p", {}, h("a", { href: "#/bulk" }, "← Bulk add")),
    h("h1", {}, `Bulk add: ${batch.count} × ${batch.first_name}`),
    h(
      "section",
      { class: "card", "aria-label": "Progress", "data-job-status": batch.status },
      h("p", {}, "Status: ", badge(batch.status), ` · started ${when(batch.started_at)} · completed ${when(batch.completed_at)}`),
      h("progress", { max: String(batch.count), value: String(done), "aria-label": "Customers created" }),
      h("p", { role: "status" }, `${batch.created} created, ${batch.failed} failed, of ${batch.count}.`),
      h(
        "p",
        { class: "muted" },
        batch.status === "completed"
          ? "Each password can be collected once: copy them or save the file before closing."
          : "The page follows the job; credentials can be collected when it is completed.",
      ),
      collect,
    ),
  );
  if (batch.status !== "completed") {
    setTimeout(() => {
      if (location.hash === `#/bulk/${batchId}`) keepingFocus(() => renderJob(app, batchId)).catch((e) => flash(e.message, "error"));
    }, 1000);
  }
}

async function collectCredentials(batch) {
  const items = [];
  let cursor = null;
  do {
    const page = await api("GET", `/customer-batches/${encodeURIComponent(batch.id)}/items`, { query: { limit: 500, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const fresh = items.filter((i) => i.password);
  const csv = ["number,last_name,login,password,status,error"]
    .concat(items.map((i) => [i.number, i.last_name, i.login || "", i.password || "", i.status, i.error || ""].map(csvCell).join(",")))
    .join("\n");
  const file = h(
    "a",
    {
      class: "button",
      href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })),
      download: `credentials-${batch.id}.csv`,
    },
    "Save as CSV",
  );
  secretDialog(
    "Credentials",
    [
      h("p", {}, fresh.length ? `${fresh.length} passwords, shown this once.` : "Every password was collected before: reset a customer's password to give them a new one."),
      h(
        "div",
        { class: "scroll credentials" },
        table(
          items,
          [
            ["No.", "number"],
            ["Name", "last_name"],
            ["Login", "login"],
            ["Password", (i) => (i.password ? h("span", { class: "secret", "data-secret": "password" }, i.password) : i.password_revealed_at ? `collected ${when(i.password_revealed_at)}` : "—")],
            ["Status", (i) => (i.error ? `${i.status}: ${i.error}` : i.status)],
          ],
          null,
        ),
      ),
      h("p", {}, file),
    ],
    fresh.map((i) => [i.login, i.password, "credential"]),
    { compact: true },
  );
}

function csvCell(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
