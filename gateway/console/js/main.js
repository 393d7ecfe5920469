// The console's entry: sign-in, the top bar, and the hash routes to each page.

import { hasSession, signIn, signOut, whenSignedOut } from "./api.js";
import { renderAudit, renderOperators } from "./admin.js";
import { renderBulkAdd } from "./bulk_add.js";
import { renderCatalog } from "./catalog_page.js";
import { renderCustomers } from "./customers.js";
import { renderDashboard } from "./dashboard.js";
import { renderDetails } from "./details.js";
import { can, currentUser, forgetMe, loadMe } from "./session.js";
import { renderTicketsQueue } from "./tickets_queue.js";
import { clear, clearFlash, flash, focusHeading, h, keepingFocus } from "./ui.js";

const app = document.getElementById("app");
const topbar = document.querySelector(".topbar");

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query) };
}

function showSignIn(message) {
  topbar.hidden = true;
  const error = h("p", { class: "error-text", role: "alert" }, message || "");
  const form = h(
    "form",
    {},
    h("h1", {}, "Sign in"),
    h("label", {}, "Username", h("input", { name: "username", autocomplete: "username", required: true })),
    h(
      "label",
      {},
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    ),
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await signIn(form.username.value, form.password.value);
      await loadMe();
      if (!location.hash || location.hash === "#/login") location.hash = "#/customers";
      else await route();
    } catch (problem) {
      error.textContent = problem.message;
    }
  });
  clear(app, h("div", { class: "card login" }, form));
  form.username.focus();
}

// Pages render after their fetches answer, so two navigations close together could finish out
// of order and the older page would replace the newer. Renders therefore run one at a time, and
// one that a newer navigation has overtaken is skipped.
let latestRoute = 0;
let routing = Promise.resolve();

function route() {
  const mine = ++latestRoute;
  routing = routing
    .then(() => (mine === latestRoute ? keepingFocus(renderRoute) : undefined))
    .catch((error) => flash(error.message || String(error), "error"));
  return routing;
}

async function renderRoute() {
  if (!hasSession()) return showSignIn();
  if (!currentUser()) {
    try {
      await loadMe();
    } catch (problem) {
      return showSignIn(problem.status === 401 ? "" : problem.message);
    }
  }
  const me = currentUser();
  topbar.hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  const { parts, params } = parseHash();
  const page = parts[0] || "customers";
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === page);
    if (link.dataset.nav === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    // Pages the role may not open are not offered.
    if (link.dataset.permission) link.hidden = !can(link.dataset.permission);
  }
  clearFlash();
  try {
    if (page === "dashboard") await renderDashboard(app);
    else if (page === "operators" && can("operators:manage")) await renderOperators(app);
    else if (page === "audit" && can("audit:read")) await renderAudit(app, params);
    else if (page === "catalog" && can("catalog:read")) await renderCatalog(app, params);
    else if (page === "bulk" && can("customers:write")) await renderBulkAdd(app, parts[1]);
    else if (page === "tickets") await renderTicketsQueue(app, params);
    else if (page === "customers" && parts[1]) await renderDetails(app, parts[1], parts[2] || "info");
    else await renderCustomers(app, params);
  } catch (problem) {
    flash(problem.message || String(problem), "error");
  }
}

whenSignedOut(() => {
  forgetMe();
  showSignIn("Your session ended; sign in again.");
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  forgetMe();
  location.hash = "#/login";
  showSignIn("Signed out.");
});

// The skip link moves focus to the page without changing the route.
document.querySelector("[data-skip]").addEventListener("click", (event) => {
  event.preventDefault();
  focusHeading();
});

window.addEventListener("hashchange", route);
route();
