// Register: car after car at a gate. Errors land on their fields; a plate already parked links
// to that vehicle; after success the form clears and the plate field takes focus again.

import { api, describe, ApiError } from "./api.js";
import { $, el, fromLocalInput, say, toast } from "./ui.js";
import { openVehicle } from "./vehicle.js";

const FIELDS = ["number_plate", "contact_name", "phone_number", "entry_timestamp"];

export function initRegister() {
  const form = $("#register-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = {
      number_plate: form.elements.number_plate.value,
      contact_name: form.elements.contact_name.value,
      phone_number: form.elements.phone_number.value,
    };
    const entry = fromLocalInput(form.elements.entry_timestamp.value);
    if (entry) body.entry_timestamp = entry;
    const message = $("#register-message");
    similarWarning(null);
    try {
      const vehicle = await api("POST", "/api/v1/vehicles", body);
      form.reset();
      say(message, `Registered ${vehicle.number_plate}.`, "ok");
      toast(`Registered ${vehicle.number_plate}.`);
      similarWarning(vehicle);
      form.elements.number_plate.focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        showErrors(error.fields);
        say(message, "Please correct the marked fields.", "error");
      } else if (error instanceof ApiError && error.status === 409) {
        alreadyParked(message, body.number_plate);
      } else {
        say(message, describe(error), "error");
      }
    }
  });
}

/**
 * A plate that differs from a parked one only by look-alike characters may have been misread:
 * the warning stays beside the plate field, with both vehicles one click away, until the next
 * registration.
 */
function similarWarning(vehicle) {
  const box = $("#similar-warning");
  const similar = vehicle ? vehicle.similar_plates || [] : [];
  if (!similar.length) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  const link = (plate) => {
    const button = el("button", { className: "link plate", text: plate, attrs: { type: "button" } });
    button.addEventListener("click", () => openVehicle(plate));
    return button;
  };
  const others = [];
  similar.forEach((plate, i) => {
    if (i) others.push(", ");
    others.push(link(plate));
  });
  box.replaceChildren(
    el("strong", { text: "Check the plate: " }),
    link(vehicle.number_plate),
    ` looks like ${similar.length === 1 ? "a plate" : "plates"} already parked: `,
    ...others,
    ". If it was misread, open the new record to remove it and register again.",
  );
  box.hidden = false;
}

function clearErrors() {
  for (const field of FIELDS) {
    $(`#err-${field}`).textContent = "";
    $(`#reg-${field}`).removeAttribute("aria-invalid");
  }
}

function showErrors(fields) {
  let first = null;
  for (const [field, text] of Object.entries(fields)) {
    const input = $(`#reg-${field}`);
    if (!input) continue;
    $(`#err-${field}`).textContent = `${label(field)} ${text}.`;
    input.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  if (first) first.focus();
}

function label(field) {
  return { number_plate: "The plate", contact_name: "The name", phone_number: "The phone number",
    entry_timestamp: "The entry time" }[field] || field;
}

function alreadyParked(message, plate) {
  const link = el("button", { className: "link", text: "Open the parked vehicle", attrs: { type: "button" } });
  link.addEventListener("click", () => openVehicle(plate));
  message.replaceChildren(`This plate is already parked. `, link);
  message.classList.add("error");
  message.classList.remove("ok");
  $("#reg-number_plate").setAttribute("aria-invalid", "true");
}

export function focusRegister() {
  $("#reg-number_plate").focus();
}
