// The tickets queue: every customer's tickets, filtered by status, priority and assignee,
// oldest or latest first, with assignment in each row. Support and above assign and change.

import { api } from "./api.js";
import { SUPPORT, can, currentUser } from "./session.js";
import { applyOnPick, badge, clear, dialog, field, flash, h, keepingFocus, options, table, when } from "./ui.js";

const STATUSES = ["open", "pending", "resolved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const SORTS = [
  ["-updated_at", "Latest update first"],
  ["updated_at", "Longest untouched first"],
];

let cursors = [];

export async function renderTicketsQueue(app, params) {
  const status = params.get("status") || "";
  const priority = params.get("priority") || "";
  const assignee = params.get("assignee") || "";
  const sort = params.get("sort") || "-updated_at";
  const cursor = params.get("cursor") || "";
  if (!cursor) cursors = [];
  // "Active" (the default) is what still needs someone: open and pending.
  const statuses = status === "all" ? [] : status ? [status] : ["open", "pending"];
  const page = await api("GET", "/tickets", {
    query: {
      status: statuses,
      priority: priority || undefined,
      assignee: assignee && assignee !== "-" ? assignee : undefined,
      unassigned: assignee === "-" ? "true" : undefined,
      sort,
      limit: 50,
      cursor,
    },
  });
  const again = () => keepingFocus(() => renderTicketsQueue(app, params));
  const go = (next) => (location.hash = `#/tickets${next.toString() ? "?" + next : ""}`);
  const change = (name, value) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("cursor");
    cursors = [];
    go(next);
  };
  const me = currentUser().name;
  const statusSelect = applyOnPick(
    h("select", { name: "status" }, options([["", "Open and pending"], ...STATUSES.map((s) => [s, s]), ["all", "Any status"]], status)),
    (v) => change("status", v),
  );
  const prioritySelect = applyOnPick(h("select", { name: "priority" }, options(PRIORITIES.map((p) => [p, p]), priority, { blank: "Any priority" })), (v) =>
    change("priority", v),
  );
  const assigneeSelect = applyOnPick(
    h(
      "select",
      { name: "assignee" },
      options(
        [
          ["", "Anyone"],
          ["-", "Nobody (unassigned)"],
          [me, `Me (${me})`],
          ...(assignee && assignee !== "-" && assignee !== me ? [[assignee, assignee]] : []),
        ],
        assignee,
      ),
    ),
    (v) => change("assignee", v),
  );
  const sortSelect = applyOnPick(h("select", { name: "sort" }, options(SORTS, sort)), (v) => change("sort", v));
  const filters = h(
    "form",
    {
      class: "row",
      "aria-label": "Filter tickets",
      onsubmit: (event) => {
        event.preventDefault();
        const next = new URLSearchParams();
        for (const [name, select] of [["status", statusSelect], ["priority", prioritySelect], ["assignee", assigneeSelect], ["sort", sortSelect]]) {
          if (select.value && !(name === "sort" && select.value === "-updated_at")) next.set(name, select.value);
        }
        go(next);
      },
    },
    field("Status", statusSelect),
    field("Priority", prioritySelect),
    field("Assignee", assigneeSelect),
    field("Order", sortSelect),
    h("button", { type: "submit" }, "Apply"),
  );
  const write = can(SUPPORT);
  const rows = table(
    page.items,
    [
      ["Subject", (t) => h("a", { href: `#/customers/${t.customer_id}/tickets`, "data-focus": `ticket:${t.id}` }, t.subject)],
      ["Customer", (t) => t.customer_name || t.customer_id.slice(0, 8)],
      ["Status", (t) => badge(t.status)],
      ["Priority", (t) => badge(t.priority)],
      ["Assignee", (t) => t.assignee || h("span", { class: "muted" }, "nobody")],
      ["Updated", (t) => when(t.updated_at)],
    ],
    write
      ? (t) => [
          t.assignee !== me
            ? h("button", { type: "button", "data-focus": `take:${t.id}`, onclick: () => assign(t, me, again) }, "Assign to me")
            : null,
          h("button", { type: "button", "data-focus": `assign:${t.id}`, onclick: () => assignDialog(t, again) }, "Assign…"),
        ]
      : null,
    status || priority || assignee ? "No ticket matches: try “Any status” or “Anyone”." : "Nothing waiting: every ticket is resolved or closed.",
  );
  const pager = h(
    "div",
    { class: "pager" },
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
          go(next);
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
          go(next);
        },
      },
      "Next",
    ),
  );
  // data-query says which filters this drawing shows, for tests to wait on.
  clear(
    app,
    h("h1", {}, "Tickets"),
    h("div", { class: "card", "data-query": params.toString() }, filters),
    h("div", { class: "card" }, rows, pager),
  );
}

async function assign(ticket, username, done) {
  try {
    await api("PATCH", `/customers/${ticket.customer_id}/tickets/${ticket.id}`, { body: { assignee: username } });
    flash(username ? `Assigned to ${username}.` : "Unassigned.");
    await done();
  } catch (problem) {
    flash(problem.message, "error");
  }
}

function assignDialog(ticket, done) {
  const who = h("input", { name: "assignee_username", maxlength: 64, value: ticket.assignee || "", autocomplete: "off" });
  const priority = h("select", { name: "ticket_priority" }, options(PRIORITIES.map((p) => [p, p]), ticket.priority));
  dialog(
    `Assign “${ticket.subject}”`,
    [field("Operator's username (empty: nobody)", who), field("Priority", priority)],
    async () => {
      await api("PATCH", `/customers/${ticket.customer_id}/tickets/${ticket.id}`, {
        body: { assignee: who.value.trim() || null, priority: priority.value },
      });
      flash(who.value.trim() ? `Assigned to ${who.value.trim()}.` : "Unassigned.");
      await done();
    },
    { saveLabel: "Assign" },
  );
}
