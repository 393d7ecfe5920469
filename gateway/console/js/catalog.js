// The catalog (webshops, products with plans) as the forms need it, fetched once per page.

import { api } from "./api.js";

let cached = null;

export async function loadCatalog() {
  if (!cached) {
    cached = Promise.all([api("GET", "/webshops"), api("GET", "/products")]).then(([shops, products]) => ({
      webshops: shops.items.filter((w) => !w.archived),
      products: products.items.filter((p) => !p.archived),
    }));
    cached.catch(() => (cached = null));
  }
  return cached;
}

export function forgetCatalog() {
  cached = null;
}

export function productName(catalog, id) {
  const product = catalog.products.find((p) => p.id === id);
  return product ? product.name : id;
}

export function planName(catalog, productId, planId) {
  const product = catalog.products.find((p) => p.id === productId);
  const plan = product && product.plans.find((p) => p.id === planId);
  return plan ? plan.name : planId;
}

/** "1 month (1 months, 9.99 EUR)": prices in `currencies` (a webshop's) when given. */
export function planLabel(plan, currencies = []) {
  const prices = Object.entries(plan.prices || {})
    .filter(([currency]) => !currencies.length || currencies.includes(currency))
    .map(([currency, amount]) => `${amount} ${currency}`)
    .join(", ");
  return `${plan.name} (${plan.length} ${plan.unit}${prices ? ", " + prices : ""})`;
}

/** Base products the webshop sells (all base products if it names none). */
export function baseProducts(catalog, webshopId) {
  const shop = catalog.webshops.find((w) => w.id === webshopId);
  return catalog.products.filter(
    (p) => p.kind === "base" && (!shop || !shop.product_ids.length || shop.product_ids.includes(p.id)),
  );
}

export function extraProducts(catalog) {
  return catalog.products.filter((p) => p.kind === "extra");
}
