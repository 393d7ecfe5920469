// The ops dashboard: GET /api/v1/stats as charts; a section whose source did not answer says so.

import { api } from "./api.js";
import { barChart, columnChart } from "./charts.js";
import { badge, clear, h, keepingFocus, table, when } from "./ui.js";

function lastDays(count) {
  const days = [];
  const today = new Date();
  for (let back = count - 1; back >= 0; back -= 1) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back));
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

function card(title, section, body) {
  return h(
    "section",
    { class: "card", "aria-label": title },
    h("h2", {}, title, " ", section.status === "ok" ? null : badge("unavailable")),
    section.status === "ok" ? body(section.data) : h("p", { class: "error-text" }, section.reason),
  );
}

function percent(part, whole) {
  return whole ? `${Math.round((100 * part) / whole)} %` : "—";
}

function figure(key, value, text) {
  return h("div", { class: "figure-box" }, h("span", { class: "figure", "data-figure": key }, String(value)), h("span", {}, text));
}

/** One source (billing) for every subscription figure, so they add up: running = trial + active. */
function subscriptionFigures(data) {
  const byStatus = data.subscriptions_by_status || {};
  const running = (byStatus.active || 0) + (byStatus.trial || 0);
  return [
    h(
      "div",
      { class: "figures" },
      figure("running-subscriptions", running, `running (${byStatus.trial || 0} trial, ${byStatus.active || 0} paid)`),
      figure("expiring-soon", data.expiring_soon, `expiring within ${data.expiring_soon_days} days`),
      figure(
        "trial-conversion",
        percent(data.trial_converted, data.trial_customers),
        `trial conversion (${data.trial_converted} of ${data.trial_customers} trial customers now pay)`,
      ),
      figure(
        "churn",
        percent(data.ended_recently, running + data.ended_recently),
        `churn, ${data.ended_recently_days} days (${data.ended_recently} ended)`,
      ),
    ),
    barChart(Object.entries(byStatus), { title: "Subscriptions by status" }),
    data.expiring_soon
      ? h("p", {}, h("a", { href: "#/customers?sort=expires_at" }, "See who expires soonest"))
      : null,
  ];
}

export async function renderDashboard(app) {
  const stats = await api("GET", "/stats");
  const days = lastDays(30);
  const short = (day) => day.slice(5);
  const cards = [
    card("Customers by status", stats.customers, (data) =>
      barChart(Object.entries(data.by_status), { title: "Customers by status" }),
    ),
    card("New customers per day", stats.customers, (data) => {
      const counts = Object.fromEntries(data.new_per_day.map((d) => [d.day, d.count]));
      return columnChart(days.map((d) => [short(d), counts[d] || 0]), { title: "New customers per day (30 days)" });
    }),
    card("Revenue per day", stats.billing, (data) => {
      const currencies = [...new Set(data.revenue_per_day.map((r) => r.currency))].sort();
      if (!currencies.length) return h("p", { class: "muted" }, "No revenue in the last 30 days.");
      return [
        ...currencies.map((currency) => {
          const amounts = Object.fromEntries(
            data.revenue_per_day.filter((r) => r.currency === currency).map((r) => [r.day, Number(r.amount)]),
          );
          return [
            h("h3", {}, currency),
            columnChart(days.map((d) => [short(d), amounts[d] || 0]), {
              title: `Revenue per day in ${currency}`,
              alt: true,
              format: (v) => v.toFixed(2),
            }),
          ];
        }),
      ];
    }),
    card("Subscriptions", stats.billing, subscriptionFigures),
    card("Tickets", stats.tickets, (data) => [
      h("p", {}, h("span", { class: "figure", "data-figure": "open-tickets" }, String(data.open_tickets)), " open"),
      barChart(Object.entries(data.by_status), { title: "Tickets by status" }),
    ]),
    card("Devices", stats.activity, (data) => [
      h("p", {}, h("span", { class: "figure", "data-figure": "devices-online" }, String(data.devices_online)), ` online of ${data.devices_total}`),
    ]),
    card("Consumer lag", stats.consumer_lag, (data) => [
      barChart(data.map((s) => [s.service, s.lag]), { title: "Records not yet consumed per service" }),
      table(
        data.flatMap((s) => s.partitions.filter((p) => p.lag > 0).map((p) => ({ service: s.service, ...p }))),
        [
          ["Service", "service"],
          ["Topic", "topic"],
          ["Partition", "partition"],
          ["Committed", "committed"],
          ["End", "end"],
          ["Lag", "lag"],
        ],
        null,
        "Every consumer is caught up.",
      ),
    ]),
  ];
  clear(
    app,
    h("div", { class: "row" }, h("h1", {}, "Dashboard"), h("span", { class: "spacer" }), h("span", { class: "muted" }, `as of ${when(stats.generated_at)}`), h("button", { type: "button", "data-focus": "refresh", onclick: () => keepingFocus(() => renderDashboard(app)) }, "Refresh")),
    h("div", { class: "charts" }, cards),
  );
}
