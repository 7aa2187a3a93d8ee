// Who is signed in: the key lives in this tab's sessionStorage only, never in localStorage or a
// cookie, and its role decides what the page shows.

const KEY = "parking.key";
const ROLE = "parking.role";

const listeners = new Set();

export const session = {
  key: sessionStorage.getItem(KEY),
  role: sessionStorage.getItem(ROLE),

  get signedIn() { return Boolean(this.key && this.role); },
  get admin() { return this.role === "admin"; },
  /** Viewers read with phone numbers masked and change nothing. */
  get viewer() { return this.role === "viewer"; },

  start(key, role) {
    this.key = key;
    this.role = role;
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
    for (const listener of listeners) listener(null);
  },

  /** Forgets the key; `reason` is shown on the sign-in form. */
  expire(reason = "") {
    this.key = null;
    this.role = null;
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
    for (const listener of listeners) listener(reason);
  },

  onChange(listener) { listeners.add(listener); },
};
