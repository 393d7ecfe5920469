// Small DOM helpers shared by the pages: elements, tables, dialogs, messages, formatting.

/** An element: attributes (on* are listeners; `value`/`checked` set as properties), children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  const late = {};
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "selected") {
      late[name] = value;
    } else if (name === "class") {
      el.className = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  Object.assign(el, late);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

let flashTimer = null;

/** A message at the top of the page: errors stay until the next action, news fades. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  box.className = kind;
  box.textContent = message;
  clearTimeout(flashTimer);
  if (kind === "info") flashTimer = setTimeout(() => (box.textContent = ""), 5000);
}

export function clearFlash() {
  const box = document.getElementById("flash");
  box.textContent = "";
}

/** Runs an action and shows its error in words instead of failing silently. */
export async function attempt(action, success) {
  clearFlash();
  try {
    const result = await action();
    if (success) flash(success, "info");
    return result;
  } catch (error) {
    flash(error.message || String(error), "error");
    return undefined;
  }
}

export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function badge(text) {
  return h("span", { class: `badge ${text}` }, text ?? "—");
}

export function fullName(info) {
  return info ? [info.first_name, info.last_name].filter(Boolean).join(" ") : "";
}

function cell(value) {
  if (value instanceof Node) return value;
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return when(value);
  return String(value);
}

/**
 * A table of `items`; `columns` are [heading, key or function(item)]; `actions(item)` gives
 * the row's buttons. An empty list says so.
 */
export function table(items, columns, actions, emptyText = "Nothing here yet.") {
  if (!items || items.length === 0) return h("p", { class: "muted" }, emptyText);
  const head = h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)), actions ? h("th", {}, "") : null);
  const rows = items.map((item) =>
    h(
      "tr",
      {},
      columns.map(([, key]) => h("td", {}, cell(typeof key === "function" ? key(item) : item[key]))),
      actions ? h("td", { class: "actions" }, actions(item)) : null,
    ),
  );
  return h("table", {}, h("thead", {}, head), h("tbody", {}, rows));
}

/** A modal dialog with a form; `submit(form)` runs on save and closes the dialog if it resolves
 * to something other than `false`. */
export function dialog(title, fields, submit, { saveLabel = "Save", danger = false } = {}) {
  const error = h("p", { class: "error-text", role: "alert" });
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, title),
    fields,
    error,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", value: "cancel", onclick: () => box.close() }, "Cancel"),
      h("button", { type: "submit", class: danger ? "danger" : "primary" }, saveLabel),
    ),
  );
  const box = h("dialog", { "aria-label": title }, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const saveButton = form.querySelector("button[type=submit]");
    saveButton.disabled = true;
    try {
      const outcome = await submit(form);
      if (outcome !== false) box.close();
    } catch (problem) {
      error.textContent = problem.message || String(problem);
    } finally {
      saveButton.disabled = false;
    }
  });
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

export function field(label, input) {
  return h("label", {}, label, input);
}

export function options(items, selected, { blank } = {}) {
  const list = blank !== undefined ? [h("option", { value: "" }, blank)] : [];
  for (const [value, text] of items) {
    list.push(h("option", { value, selected: value === selected }, text));
  }
  return list;
}
