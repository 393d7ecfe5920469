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
  if (Array.isArray(value)) return h("span", {}, value);
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
  if (!items || items.length === 0) return h("p", { class: "muted empty" }, emptyText);
  const head = h(
    "tr",
    {},
    columns.map(([title]) => h("th", { scope: "col" }, title)),
    actions ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null,
  );
  const rows = items.map((item) =>
    h(
      "tr",
      {},
      columns.map(([title, key]) => h("td", { "data-label": title }, cell(typeof key === "function" ? key(item) : item[key]))),
      actions ? h("td", { class: "actions" }, actions(item)) : null,
    ),
  );
  return h("table", {}, h("thead", {}, head), h("tbody", {}, rows));
}

/** A modal dialog with a form; `submit(form)` runs on save and closes the dialog if it resolves
 * to something other than `false`. */
export function dialog(title, fields, submit, { saveLabel = "Save", danger = false } = {}) {
  const error = h("p", { class: "error-text", role: "alert" });
  const titleId = nextId("dialog-title");
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: titleId }, title),
    fields,
    h("p", { class: "muted required-note" }, "Fields marked * are required."),
    error,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", value: "cancel", onclick: () => box.close() }, "Cancel"),
      h("button", { type: "submit", class: danger ? "danger" : "primary" }, saveLabel),
    ),
  );
  const box = h("dialog", { "aria-labelledby": titleId }, form);
  const opener = document.activeElement;
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
  box.addEventListener("close", () => {
    box.remove();
    returnFocus(opener);
  });
  document.body.append(box);
  box.showModal();
  return box;
}

let idCounter = 0;

/** A document-unique id for aria-labelledby and aria-controls. */
export function nextId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A closed dialog gives focus back to what opened it; if a redraw replaced that element, to its
// equivalent in the new page (see focusKey), else to the page's heading.
function returnFocus(opener) {
  // A dialog opened from another (the credentials after a save) keeps the focus.
  if (document.querySelector("dialog[open]")) return;
  if (opener && opener.isConnected && opener !== document.body) {
    opener.focus();
    return;
  }
  const key = opener ? focusKey(opener) : null;
  const again = key ? document.querySelector(key) : null;
  if (again) again.focus();
  else focusHeading();
}

/**
 * A selector that finds "the same" control after a redraw: its `data-focus`, else its `name`
 * (form fields), else null. Rows' controls carry `data-focus` with the row's id.
 */
export function focusKey(el) {
  if (!el || el === document.body || !(el instanceof Element)) return null;
  if (el.dataset && el.dataset.focus) return `[data-focus="${CSS.escape(el.dataset.focus)}"]`;
  const name = el.getAttribute("name");
  if (name && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName)) {
    return `main ${el.tagName.toLowerCase()}[name="${CSS.escape(name)}"]`;
  }
  return null;
}

/**
 * Runs `render` (which replaces the page) and keeps the keyboard where it was: on the same
 * control in the new page if there is one, else on the new page's heading. An open dialog
 * keeps its own focus (it gives it back when it closes).
 */
export async function keepingFocus(render) {
  const active = document.activeElement;
  if (active && active.closest("dialog")) return render();
  const key = focusKey(active);
  const result = await render();
  const current = document.activeElement;
  if (current && current !== document.body && current.isConnected && current !== active) return result;
  if (current === active && active && active.isConnected && active !== document.body) return result;
  const again = key ? document.querySelector(key) : null;
  if (again) again.focus();
  else focusHeading();
  return result;
}

/** Moves focus to the page's main heading (made focusable by script only). */
export function focusHeading() {
  const heading = document.querySelector("main h1");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}

/**
 * A WAI-ARIA tablist: one tab in the Tab order (the selected one), arrow keys, Home and End
 * move between tabs, Enter or Space (a click) opens one. `items` are [key, label];
 * `onOpen(key)` opens a tab; the tab panel is labelled by the selected tab.
 */
export function tabList(items, selected, onOpen, { label, panelId }) {
  const tabs = items.map(([key, text]) =>
    h(
      "button",
      {
        role: "tab",
        type: "button",
        id: `${panelId}-tab-${key}`,
        "data-focus": `tab:${panelId}:${key}`,
        "aria-selected": String(key === selected),
        "aria-controls": key === selected ? panelId : undefined,
        tabindex: key === selected ? "0" : "-1",
        onclick: () => onOpen(key),
      },
      text,
    ),
  );
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": label }, tabs);
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const target = tabs[(moves[event.key] + tabs.length) % tabs.length];
    for (const tab of tabs) tab.tabIndex = tab === target ? 0 : -1;
    target.focus();
  });
  return list;
}

/**
 * A select that applies its value when picked with the mouse, but not on each arrow key: a
 * keyboard user moves through the options and applies with Enter (or the form's button).
 */
export function applyOnPick(select, apply) {
  let keyed = false;
  select.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      keyed = false;
      apply(select.value);
    } else if (event.key.startsWith("Arrow") || event.key === "Home" || event.key === "End" || event.key.length === 1) {
      keyed = true;
    }
  });
  select.addEventListener("pointerdown", () => (keyed = false));
  select.addEventListener("change", () => {
    if (!keyed) apply(select.value);
  });
  return select;
}

/**
 * A dialog that shows a secret once (a generated password, an API key). It opens on "Copy";
 * Escape does not close it and Enter copies, so nothing throws the secret away unseen: only
 * the explicit "I have noted it" button closes it. `secrets` are [label, value, data-secret];
 * `compact` leaves them out of the dialog when the intro already shows them (a table).
 */
export function secretDialog(title, intro, secrets, { onClose, extra, compact = false } = {}) {
  const status = h("p", { class: "muted", role: "status" });
  const text = secrets.map(([label, value]) => `${label}: ${value}`).join("\n");
  const copy = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = "Copied to the clipboard.";
        } catch {
          const range = document.createRange();
          range.selectNodeContents(compact ? box.querySelector(".credentials") || box : list);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          status.textContent = "Copying is not allowed here: the text is selected, press Ctrl+C.";
        }
      },
    },
    "Copy",
  );
  const done = h("button", { type: "button", onclick: () => box.close() }, "I have noted it");
  const titleId = nextId("dialog-title");
  const list = h(
    "dl",
    { class: "kv" },
    secrets.map(([label, value, key]) => [h("dt", {}, label), h("dd", {}, h("span", { class: "secret", "data-secret": key }, value))]),
  );
  const opener = document.activeElement;
  const box = h(
    "dialog",
    { "aria-labelledby": titleId, class: "secret-dialog" },
    h("h2", { id: titleId }, title),
    intro,
    compact ? null : list,
    extra || null,
    status,
    h("div", { class: "buttons" }, copy, done),
  );
  // Escape would close a modal dialog: this one stays until the operator says they have it.
  box.addEventListener("cancel", (event) => {
    event.preventDefault();
    status.textContent = "Copy it or note it first, then choose “I have noted it”.";
  });
  box.addEventListener("close", () => {
    box.remove();
    if (onClose) onClose();
    else returnFocus(opener);
  });
  document.body.append(box);
  box.showModal();
  copy.focus();
  return box;
}

/** A labelled control; a required one is marked with an asterisk (styles.css) from its
 * `required` property, so a field made required later is marked too. */
export function field(label, input) {
  return h("label", {}, h("span", { class: "label-text" }, label), input);
}

export function options(items, selected, { blank } = {}) {
  const list = blank !== undefined ? [h("option", { value: "" }, blank)] : [];
  for (const [value, text] of items) {
    list.push(h("option", { value, selected: value === selected }, text));
  }
  return list;
}
