// Who is signed in and what their role permits (GET /api/v1/me); pages ask `can(...)`.

import { api } from "./api.js";

let me = null;

export async function loadMe() {
  me = await api("GET", "/me");
  return me;
}

export function currentUser() {
  return me;
}

export function forgetMe() {
  me = null;
}

/** Whether the signed-in role has `permission` (e.g. "customers:write"). */
export function can(permission) {
  return Boolean(me && me.permissions.includes(permission));
}

export const SELL = "customers:write";
export const SUPPORT = "tickets:write";
export const REPEAT_TRIAL = "subscriptions:repeat_trial";
