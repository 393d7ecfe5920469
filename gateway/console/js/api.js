// Calls to the gateway's API: bearer token, refresh on 401, problem+json turned into words.

const STORE = window.sessionStorage;
const KEYS = { access: "tvcm.access", refresh: "tvcm.refresh" };
let onSignedOut = () => {};
let refreshing = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super(describeProblem(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

/** One sentence for a problem+json body: its title, detail and each failing field. */
export function describeProblem(status, problem) {
  if (!problem || typeof problem !== "object") return `The request failed (${status}).`;
  const parts = [problem.title || `Error ${status}`];
  if (problem.detail) parts.push(problem.detail);
  let text = parts.join(": ");
  if (Array.isArray(problem.errors) && problem.errors.length) {
    text += " (" + problem.errors.map((e) => `${e.field}: ${e.message}`).join("; ") + ")";
  }
  return text;
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function hasSession() {
  return Boolean(STORE.getItem(KEYS.access));
}

function keep(tokens) {
  STORE.setItem(KEYS.access, tokens.access_token);
  STORE.setItem(KEYS.refresh, tokens.refresh_token);
}

function forget() {
  STORE.removeItem(KEYS.access);
  STORE.removeItem(KEYS.refresh);
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

async function tokenRequest(fields) {
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    body: new URLSearchParams(fields),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const tokens = await response.json();
  keep(tokens);
  return tokens;
}

export function signIn(username, password) {
  return tokenRequest({ grant_type: "password", username, password });
}

/** Exchanges the refresh token once, however many calls found their token expired at once. */
function refreshTokens() {
  const token = STORE.getItem(KEYS.refresh);
  if (!token) return Promise.reject(new Error("no refresh token"));
  if (!refreshing) {
    refreshing = tokenRequest({ grant_type: "refresh_token", refresh_token: token }).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function signOut() {
  const token = STORE.getItem(KEYS.refresh);
  forget();
  if (token) {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      body: new URLSearchParams({ refresh_token: token }),
    }).catch(() => {});
  }
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, item);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * `method` `path` under /api/v1 with a JSON body; resolves to the decoded answer (null for
 * 204). A write carries one Idempotency-Key for all its attempts, so the retry after a token
 * refresh cannot do it twice.
 */
export async function api(method, path, { body, query } = {}) {
  const url = withQuery(`/api/v1${path}`, query);
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["Idempotency-Key"] = newKey();
  const send = () =>
    fetch(url, {
      method,
      headers: { ...headers, Authorization: `Bearer ${STORE.getItem(KEYS.access) || ""}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response = await send();
  if (response.status === 401 && STORE.getItem(KEYS.refresh)) {
    try {
      await refreshTokens();
      response = await send();
    } catch {
      // The refresh token is spent, revoked or expired: sign in again.
    }
  }
  if (response.status === 401) {
    forget();
    onSignedOut();
    throw new ApiError(401, await problemOf(response));
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Saves the answer of GET `path` (e.g. a CSV export) as a file, with the same token handling. */
export async function download(path, query, filename) {
  const url = withQuery(`/api/v1${path}`, query);
  const send = () =>
    fetch(url, { headers: { Authorization: `Bearer ${STORE.getItem(KEYS.access) || ""}` } });
  let response = await send();
  if (response.status === 401 && STORE.getItem(KEYS.refresh)) {
    await refreshTokens().catch(() => {});
    response = await send();
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
