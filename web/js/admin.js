// Admin: health, retention and capacity, purge, backups, export, clear, the watchlist, API keys
// and the audit log.

import { api, describe, download, withQuery, ApiError } from "./api.js";
import { $, copy, el, fromLocalInput, localTime, say, toast } from "./ui.js";
import { initWatchlist, showWatchlist } from "./watchlist.js";
import { initPrivacy, preview, showPrivacy } from "./privacy.js";

export function initAdmin() {
  $("#health-refresh").addEventListener("click", health);
  $("#retention-form").addEventListener("submit", saveRetention);
  $("#capacity-form").addEventListener("submit", saveCapacity);
  $("#export-csv").addEventListener("click", () => exportCsv(false));
  $("#export-csv-personal").addEventListener("click", () => exportCsv(true));
  initWatchlist();
  initPrivacy();
  $("#purge-now").addEventListener("click", purge);
  $("#backup-now").addEventListener("click", backup);
  $("#clear-confirm").addEventListener("change", (event) => { $("#clear-submit").disabled = !event.target.checked; });
  $("#clear-form").addEventListener("submit", clear);
  $("#key-form").addEventListener("submit", createKey);
  $("#key-copy").addEventListener("click", async () => {
    const done = await copy($("#key-secret").textContent);
    say($("#key-copied"), done ? "Copied." : "Copy failed: select the key instead.", done ? "ok" : "error");
  });
  $("#key-dialog").addEventListener("close", () => {
    $("#key-secret").textContent = "";
    say($("#key-copied"), "");
  });
  $("#audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    audit(null);
  });
  $("#audit-more").addEventListener("click", () => audit(auditCursor, true));
}

export function showAdmin() {
  health();
  retention();
  capacity();
  showWatchlist();
  showPrivacy();
  backups();
  keys();
  audit(null);
}

async function health() {
  const status = $("#health-status");
  try {
    const response = await fetch("/health/ready", { headers: { Accept: "application/json" } });
    const body = await response.json();
    const checks = Object.entries(body.checks || {}).map(([name, state]) => `${name}: ${state}`).join(", ");
    say(status, `${response.ok ? "Ready" : "Not ready"} — ${checks || body.detail || ""}`, response.ok ? "ok" : "error");
  } catch {
    say(status, "The service cannot be reached.", "error");
  }
}

async function retention() {
  try {
    const setting = await api("GET", "/api/v1/config/retention");
    $("#retention-current").textContent =
      `Personal data is kept for ${setting.retention_hours} hours (set ${localTime(setting.updated_at)}).`;
    $("#retention-hours").value = setting.retention_hours;
  } catch (error) {
    say($("#retention-current"), describe(error), "error");
  }
}

async function saveRetention(event) {
  event.preventDefault();
  const input = $("#retention-hours");
  const error = $("#err-retention_hours");
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  const hours = Number(input.value);
  try {
    await api("PUT", "/api/v1/config/retention", { retention_hours: Number.isInteger(hours) ? hours : input.value });
    toast(`Retention set to ${hours} hours.`);
    retention();
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 422) {
      error.textContent = `The period ${failure.fields.retention_hours || "is invalid"}.`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      error.textContent = describe(failure);
    }
  }
}

async function capacity() {
  try {
    const occupancy = await api("GET", "/api/v1/occupancy?hours=1");
    if (occupancy.capacity) $("#capacity-places").value = occupancy.capacity;
  } catch (error) {
    say($("#err-capacity"), describe(error), "error");
  }
}

async function saveCapacity(event) {
  event.preventDefault();
  const input = $("#capacity-places");
  const error = $("#err-capacity");
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  const places = Number(input.value);
  try {
    await api("PUT", "/api/v1/config/capacity", { capacity: Number.isInteger(places) && input.value ? places : input.value });
    toast(`Capacity set to ${places} places.`);
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 422) {
      error.textContent = `The capacity ${failure.fields.capacity || "is invalid"}.`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      error.textContent = describe(failure);
    }
  }
}

async function exportCsv(personal) {
  const message = $("#maintenance-message");
  try {
    await download(`/api/v1/vehicles/export.csv${personal ? "?personal=true" : ""}`,
      personal ? "vehicles-with-contacts.csv" : "vehicles.csv");
    say(message, personal ? "Exported with names and phone numbers (audited)." : "Exported (audited).");
  } catch (error) {
    say(message, describe(error), "error");
  }
}

async function purge() {
  const message = $("#maintenance-message");
  try {
    const report = await api("POST", "/api/v1/maintenance/purge");
    say(message, `Purged ${report.deleted} expired ${report.deleted === 1 ? "vehicle" : "vehicles"} (cut-off ${localTime(report.cutoff)}).`);
    preview();
  } catch (error) {
    say(message, describe(error), "error");
  }
}

async function backup() {
  const message = $("#maintenance-message");
  say(message, "Writing a backup…");
  try {
    const written = await api("POST", "/api/v1/maintenance/backup");
    say(message, `Backup ${written.file} written and verified.`);
    backups();
  } catch (error) {
    say(message, describe(error), "error");
  }
}

async function backups() {
  try {
    const list = await api("GET", "/api/v1/maintenance/backups");
    const rows = list.items.map((b) => el("tr", {}, [
      el("td", {}, [el("code", { text: b.file })]),
      el("td", { text: `${Math.max(1, Math.round(b.size_bytes / 1024))} KiB` }),
      el("td", { text: localTime(b.created_at) }),
    ]));
    if (!rows.length) rows.push(el("tr", {}, [el("td", { text: "No backups yet.", attrs: { colspan: "3" } })]));
    $("#backups-table tbody").replaceChildren(...rows);
  } catch (error) {
    say($("#maintenance-message"), describe(error), "error");
  }
}

async function clear(event) {
  event.preventDefault();
  const message = $("#maintenance-message");
  const withBackup = $("#clear-backup").checked;
  try {
    const report = await api("POST", "/api/v1/maintenance/clear", { confirm: true, backup: withBackup });
    const saved = report.backup ? ` A backup was written first: ${report.backup.file}.` : "";
    say(message, `Cleared ${report.deleted} ${report.deleted === 1 ? "vehicle" : "vehicles"}.${saved}`);
    $("#clear-confirm").checked = false;
    $("#clear-submit").disabled = true;
    backups();
  } catch (error) {
    say(message, describe(error), "error");
  }
}

async function keys() {
  try {
    const list = await api("GET", "/api/v1/keys");
    const now = Date.now();
    const rows = list.items.map((key) => {
      const expired = key.expires_at && Date.parse(key.expires_at) <= now;
      const status = key.revoked_at ? "revoked" : expired ? "expired" : "active";
      const cells = [
        el("td", { text: key.id }), el("td", { text: key.name }), el("td", { text: key.role }),
        el("td", { text: localTime(key.created_at) }), el("td", { text: key.expires_at ? localTime(key.expires_at) : "never" }),
        el("td", { text: key.last_used_at ? localTime(key.last_used_at) : "never" }), el("td", { text: status }),
      ];
      const action = el("td");
      if (status === "active") action.append(revokeButton(key));
      return el("tr", { attrs: { "data-key-id": key.id } }, [...cells, action]);
    });
    $("#keys-table tbody").replaceChildren(...rows);
  } catch (error) {
    say($("#keys-message"), describe(error), "error");
  }
}

function revokeButton(key) {
  const button = el("button", { className: "quiet small", text: "Revoke", attrs: { type: "button", "aria-label": `Revoke key ${key.id} (${key.name})` } });
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = "Confirm revoke";
      button.classList.replace("quiet", "danger");
      return;
    }
    try {
      await api("DELETE", `/api/v1/keys/${key.id}`);
      say($("#keys-message"), `Key ${key.id} (${key.name}) revoked.`);
      keys();
    } catch (error) {
      say($("#keys-message"), describe(error), "error");
      armed = false;
      button.textContent = "Revoke";
      button.classList.replace("danger", "quiet");
    }
  });
  return button;
}

async function createKey(event) {
  event.preventDefault();
  const form = $("#key-form");
  for (const field of ["name", "role", "expires_at"]) $(`#err-${field}`).textContent = "";
  const body = { name: form.elements.name.value, role: form.elements.role.value };
  const expires = fromLocalInput(form.elements.expires_at.value);
  if (expires) body.expires_at = expires;
  try {
    const created = await api("POST", "/api/v1/keys", body);
    form.reset();
    $("#key-secret").textContent = created.key;
    $("#key-dialog").showModal();
    $("#key-copy").focus();
    keys();
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      for (const [field, text] of Object.entries(error.fields)) {
        const slot = $(`#err-${field}`);
        if (slot) slot.textContent = `${field === "expires_at" ? "The expiry" : `The ${field}`} ${text}.`;
      }
    } else {
      say($("#keys-message"), describe(error), "error");
    }
  }
}

let auditCursor = null;

async function audit(cursor, append = false) {
  const form = $("#audit-form");
  const path = withQuery("/api/v1/audit", {
    limit: 50,
    action: form.elements.action.value,
    entity_id: form.elements.entity_id.value.trim(),
    since: fromLocalInput(form.elements.since.value),
    until: fromLocalInput(form.elements.until.value),
    cursor,
  });
  try {
    const page = await api("GET", path);
    auditCursor = page.next_cursor;
    const rows = page.items.map((entry) => el("tr", {}, [
      el("td", { text: localTime(entry.timestamp) }),
      el("td", { text: entry.action }),
      el("td", {}, [el("code", { text: entry.entity_id ? `${entry.entity} ${entry.entity_id}` : entry.entity })]),
      el("td", { text: entry.actor }),
      el("td", {}, [el("code", { text: JSON.stringify(entry.details) })]),
    ]));
    const body = $("#audit-table tbody");
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    $("#audit-more").hidden = !auditCursor;
    say($("#audit-message"), body.children.length ? "" : "No entry matches these filters.");
  } catch (error) {
    say($("#audit-message"), describe(error), "error");
  }
}
