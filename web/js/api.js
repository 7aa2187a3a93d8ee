// Every call to the service: the key on each request, problem+json read into a typed error,
// and page-wide messages for what no form can fix (network down, rate limit, overload).

import { session } from "./session.js";
import { banner } from "./ui.js";

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** `{field: message}` from a 400/422 problem's `errors`. */
  get fields() {
    const fields = {};
    for (const error of this.problem.errors || []) fields[error.field] = error.message;
    return fields;
  }
}

/** What to tell a person about a failure. */
export function describe(error) {
  if (!(error instanceof ApiError)) return "Something went wrong in this page. Reload it and try again.";
  switch (error.status) {
    case 0: return "The service cannot be reached. Check the connection; the page will work again once it is back.";
    case 429: return `Too many requests from this key. Try again in ${error.retryAfter || "a few"} seconds.`;
    case 503: return `The service is not available right now: ${error.problem.detail || "try again shortly"}.`;
    case 500: return "The service failed to do this. Try again; if it keeps failing, tell your administrator.";
    default: return error.problem.detail || `The request failed (${error.status}).`;
  }
}

/** Calls the API. Resolves with the JSON body (null for 204); rejects with an ApiError. */
export async function api(method, path, body, key = session.key) {
  const response = await send(method, path, body, key, "application/json");
  return response.status === 204 ? null : response.json();
}

/** Fetches a file the API serves (the CSV export) and hands it to the browser as a download. */
export async function download(path, filename) {
  const response = await send("GET", path, undefined, session.key, "text/csv");
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** One request; resolves with a successful response, rejects with an ApiError. */
async function send(method, path, body, key, accept) {
  const headers = { Accept: accept };
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    const error = new ApiError(0);
    banner(describe(error));
    throw error;
  }
  if (response.ok) {
    banner("");
    return response;
  }
  let problem = {};
  try { problem = await response.json(); } catch { /* not a problem body */ }
  const error = new ApiError(response.status, problem, response.headers.get("Retry-After"));
  if (response.status === 401 && key === session.key && session.key) {
    session.expire("Your key is no longer accepted (revoked, expired or mistyped). Sign in again.");
  } else if ([0, 429, 500, 503].includes(response.status)) {
    banner(describe(error));
  }
  throw error;
}

/** A path with query parameters, leaving out empty ones. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
