// Admin: the privacy officer's tools — what the purge will delete in the coming hours, and
// subject access and erasure with a confirmation step.

import { api, describe, withQuery, ApiError } from "./api.js";
import { $, el, localTime, niceMax, say, svg } from "./ui.js";

const CHART = { width: 720, height: 160, left: 40, right: 10, top: 10, bottom: 28 };

let subject = null;

export function initPrivacy() {
  $("#preview-hours").addEventListener("change", preview);
  $("#subject-form").addEventListener("submit", findSubject);
  $("#erase-confirm").addEventListener("change", (event) => { $("#erase-submit").disabled = !event.target.checked; });
  $("#erase-form").addEventListener("submit", erase);
}

export function showPrivacy() {
  preview();
}

/** Bars per hour of what the purge will delete. */
export async function preview() {
  const summary = $("#preview-summary");
  let answer;
  try {
    answer = await api("GET", withQuery("/api/v1/maintenance/purge-preview", { hours: $("#preview-hours").value }));
  } catch (error) {
    say(summary, describe(error), "error");
    return;
  }
  const hours = answer.by_hour;
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const scale = niceMax(Math.max(1, ...hours.map((h) => h.count)));
  const step = plotWidth / Math.max(1, hours.length);
  const y = (value) => top + plotHeight - (plotHeight * value) / scale;
  const parts = [];
  for (const tick of [0, scale]) {
    parts.push(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    parts.push(svg("text", { x: left - 6, y: y(tick) + 4, class: "axis end" }, String(tick)));
  }
  hours.forEach((h, i) => {
    if (h.count) {
      parts.push(svg("rect", {
        x: left + i * step + step * 0.15, y: y(h.count), width: Math.max(1, step * 0.7),
        height: y(0) - y(h.count), class: "purge-bar",
      }, `${h.count} at ${localTime(h.hour)}`));
    }
  });
  if (hours.length) {
    parts.push(svg("text", { x: left, y: height - 8, class: "axis" }, "now"));
    parts.push(svg("text", { x: width - right, y: height - 8, class: "axis end" }, localTime(hours[hours.length - 1].hour)));
  }
  $("#preview-chart").replaceChildren(...parts);
  const busiest = hours.reduce((best, h) => (h.count > (best?.count || 0) ? h : best), null);
  say(summary, answer.count
    ? `${answer.count} ${answer.count === 1 ? "vehicle" : "vehicles"} will be deleted in this period`
      + (busiest ? `; the most (${busiest.count}) in the hour from ${localTime(busiest.hour)}.` : ".")
    : "Nothing will be deleted in this period.", "ok");
}

function subjectBody() {
  const form = $("#subject-form");
  const body = {};
  for (const name of ["number_plate", "phone_number"]) {
    const value = form.elements[name].value.trim();
    if (value) body[name] = value;
  }
  return body;
}

function fieldErrors(failure) {
  const fields = failure instanceof ApiError ? failure.fields : {};
  for (const name of ["number_plate", "phone_number"]) say($(`#err-subject-${name}`), fields[name] || "", "error");
  return fields;
}

async function findSubject(event) {
  event.preventDefault();
  const message = $("#subject-message");
  fieldErrors(null);
  const body = subjectBody();
  if (!body.number_plate && !body.phone_number) {
    say(message, "Enter a number plate or a phone number.", "error");
    return;
  }
  try {
    const found = await api("POST", "/api/v1/subjects/search", body);
    subject = body;
    render(found);
    say(message, "", "ok");
  } catch (failure) {
    const fields = fieldErrors(failure);
    if (!fields.number_plate && !fields.phone_number) say(message, describe(failure), "error");
  }
}

function render(found) {
  $("#subject-result").hidden = false;
  $("#subject-summary").textContent = `${found.vehicles.length} vehicle ${found.vehicles.length === 1 ? "record" : "records"}, `
    + `${found.watchlist.length} watchlist ${found.watchlist.length === 1 ? "entry" : "entries"}, `
    + `${found.audit.length} audit ${found.audit.length === 1 ? "entry" : "entries"}; `
    + `${found.backups.length} ${found.backups.length === 1 ? "backup holds" : "backups hold"} some of them.`;
  $("#subject-table tbody").replaceChildren(...found.vehicles.map((v) => el("tr", {}, [
    el("td", {}, [el("span", { className: "plate", text: v.number_plate })]),
    el("td", { text: v.contact_name }),
    el("td", { text: v.phone_number }),
    el("td", { text: localTime(v.entry_timestamp) }),
    el("td", { text: localTime(v.expires_at) }),
  ])));
  renderBackups(found.backups);
  const anything = found.vehicles.length + found.watchlist.length > 0;
  $("#erase-form").hidden = !anything;
  $("#erase-confirm").checked = false;
  $("#erase-submit").disabled = true;
}

function renderBackups(backups) {
  $("#subject-backups").replaceChildren(...backups.map((b) => el("li", {
    text: `${b.file}: ${b.vehicles} vehicle(s), ${b.watchlist} watchlist entr${b.watchlist === 1 ? "y" : "ies"} — deleted ${localTime(b.expires_at)}`,
  })));
}

async function erase(event) {
  event.preventDefault();
  if (!subject || !$("#erase-confirm").checked) return;
  const message = $("#subject-message");
  try {
    const done = await api("POST", "/api/v1/subjects/erase", { ...subject, confirm: true });
    $("#subject-table tbody").replaceChildren();
    renderBackups(done.backups);
    $("#erase-form").hidden = true;
    $("#subject-summary").textContent = "";
    say(message, `Erased ${done.erased.vehicles} vehicle record(s) and ${done.erased.watchlist} watchlist entr${done.erased.watchlist === 1 ? "y" : "ies"}.`
      + (done.backups.length ? ` ${done.backups.length} backup(s) still hold them until they expire (listed below).` : ""), "ok");
  } catch (failure) {
    say(message, describe(failure), "error");
  }
}
