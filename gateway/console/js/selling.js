// Selling to a customer with nothing to renew (POST .../subscription), and how the customer
// paid an operator's sale: said, the sale is settled at once; left "not paid yet", it is owed.

import { api } from "./api.js";
import { saleFields } from "./customers.js";
import { attempt, dialog, field, flash, fullName, h, options, when } from "./ui.js";

const METHODS = [
  ["", "Not paid yet (owed)"],
  ["cash", "Cash"],
  ["card", "Card"],
  ["bank_transfer", "Bank transfer"],
  ["free", "Free of charge"],
];

/** A "Paid by" select and its reference; `picked()` is the request's `payment` or null. */
export function paymentFields() {
  const method = h("select", { name: "payment_method" }, options(METHODS, ""));
  const reference = h("input", { name: "payment_reference", maxlength: 200, value: "" });
  return {
    element: h("div", { class: "grid" }, field("Paid by", method), field("Payment reference", reference)),
    picked: () => (method.value ? { method: method.value, reference: reference.value.trim() || null } : null),
  };
}

export function sell(catalog, customer, done) {
  const sale = saleFields(catalog, { webshopId: customer.webshop_id });
  const payment = paymentFields();
  dialog(
    `Sell a subscription to ${fullName(customer.info)}`,
    [
      h("p", { class: "muted" }, `Nothing to renew: a new period from now, sold through webshop ${customer.webshop_id}.`),
      sale.element,
      payment.element,
    ],
    async () => {
      const result = await api("POST", `/customers/${customer.id}/subscription`, {
        body: { ...sale.picked(), payment: payment.picked() },
      });
      if (done) await attempt(done);
      flash(`Sold: ${result?.subscription?.expires_at ? `expires ${when(result.subscription.expires_at)}` : "starts on the first login"}.`);
    },
    { saveLabel: "Sell" },
  );
}

/** Under the webshop select of Customer Info: what moving there does, asked before saving. */
export function webshopMoveNote(path, select, currentWebshopId, save) {
  const note = h("p", { class: "muted", "aria-live": "polite", "data-testid": "webshop-move" });
  const explain = async () => {
    save.disabled = false;
    if (select.value === currentWebshopId) {
      note.textContent = "";
      return;
    }
    note.textContent = "Checking…";
    try {
      const move = await api("GET", `${path}/webshop-move`, { query: { webshop_id: select.value } });
      if (!move.allowed) {
        note.className = "error-text";
        note.textContent = `Cannot move: ${move.reason}.`;
        save.disabled = true;
        return;
      }
      note.className = "muted";
      note.textContent = move.product_id
        ? `The current period runs on as sold; from the next renewal or change the subscription is sold by ${move.webshop_id}: renewal ${move.renewal_price} ${move.currency}.`
        : `No running subscription: the next sale is from ${move.webshop_id}'s catalog.`;
    } catch (problem) {
      note.className = "error-text";
      note.textContent = problem.message || String(problem);
    }
  };
  select.addEventListener("change", explain);
  return note;
}
