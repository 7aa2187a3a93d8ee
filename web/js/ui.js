// Small helpers shared by every view: elements, messages, times, plates, the clipboard.

export const $ = (selector, root = document) => root.querySelector(selector);

/** Creates an element with text content (never HTML: values may be anything a client sent). */
export function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

let toastTimer;
/** A short confirmation that fades by itself (announced to screen readers). */
export function toast(text) {
  const node = $("#toast");
  node.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.textContent = ""; }, 4000);
}

/** A problem that concerns the whole page (network down, overload); stays until dismissed. */
export function banner(text) {
  $("#banner-text").textContent = text;
  $("#banner").hidden = !text;
}

/** Shows `text` in a message paragraph, styled as an error or a success. */
export function say(node, text, kind = "ok") {
  node.textContent = text || "";
  node.classList.toggle("error", kind === "error");
  node.classList.toggle("ok", kind === "ok");
}

/** A time in the browser's own time zone, to the second. */
export function localTime(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** The value of a `datetime-local` input (local time) as RFC 3339, or undefined when empty. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? value : at.toISOString();
}

/** As the service normalises plates: no spaces, hyphens or dots, upper case. */
export function normalisePlate(text) {
  return text.replace(/[ .-]/g, "").toUpperCase();
}

const LOOKALIKES = { O: "0", D: "0", Q: "0", I: "1", L: "1", Z: "2", S: "5", B: "8" };

/** Look-alike characters folded together, as the service's search does. */
export function foldPlate(normalised) {
  return [...normalised].map((c) => LOOKALIKES[c] || c).join("");
}

/**
 * Whether `vehicle` matched `query` only through look-alike characters: its plate does not
 * contain the query as typed, its folded form does, and neither the name nor the phone explains
 * the match.
 */
export function matchedByLookalike(vehicle, query) {
  const plateQuery = normalisePlate(query.trim());
  if (!plateQuery || vehicle.number_plate.includes(plateQuery)) return false;
  if (!foldPlate(vehicle.number_plate).includes(foldPlate(plateQuery))) return false;
  const nameMatch = vehicle.contact_name.toLowerCase().includes(query.trim().toLowerCase());
  const digits = query.replace(/[\s().+-]/g, "");
  const phoneMatch = /^\d{3,}$/.test(digits) && vehicle.phone_number.includes(digits);
  return !nameMatch && !phoneMatch;
}

/** Copies text; falls back to a selection copy where the Clipboard API is not allowed. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", { attrs: { readonly: true, "aria-hidden": "true" }, className: "visually-hidden" });
    area.value = text;
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and optional text. */
export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for a chart's axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) {
    if (value <= factor * power) return factor * power;
  }
  return 10 * power;
}
