// The live-search connection: one WebSocket per page, reconnected with back-off, the current
// search re-sent after every reconnect so results never go stale silently.

import { session } from "./session.js";
import { api } from "./api.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
/** Close code the service uses when the key that opened the connection is revoked or expires. */
const POLICY_VIOLATION = 1008;

export class LiveSearch {
  /**
   * @param {(frame: object) => void} onFrame every JSON frame the service sends
   * @param {(state: "connecting"|"live"|"reconnecting") => void} onState
   */
  constructor(onFrame, onState) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.socket = null;
    this.current = null;
    /** The id of the search sent and not answered yet, if any. */
    this.inFlight = null;
    this.sequence = 0;
    this.failures = 0;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    if (!this.socket) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
  }

  /**
   * Searches (and subscribes); returns the id the answer will carry. One search is in flight
   * at a time: keys typed while one is answered replace each other, and only the newest is
   * sent when the answer comes, so the service never works through searches nobody will read
   * (a one-letter search of a large car park is the slow one).
   */
  search(query, limit = 20) {
    this.sequence += 1;
    this.current = { type: "search", id: `s${this.sequence}`, query, limit };
    if (!this.inFlight) this.sendCurrent();
    return this.current.id;
  }

  sendCurrent() {
    if (!this.current || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.inFlight = this.current.id;
    this.socket.send(JSON.stringify(this.current));
  }

  /** An answer arrived: the next search, if keys were typed meanwhile, goes now. */
  answered(frame) {
    if (frame.type !== "results" && !(frame.type === "error" && frame.id === this.inFlight)) return;
    if (frame.id !== this.inFlight) return;
    this.inFlight = null;
    if (this.current && this.current.id !== frame.id) this.sendCurrent();
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/api/v1/ws/vehicles/search?api_key=${encodeURIComponent(session.key || "")}`;
    this.onState(this.failures ? "reconnecting" : "connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.failures = 0;
      this.inFlight = null;
      this.onState("live");
      this.sendCurrent();
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      this.answered(frame);
      this.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.inFlight = null;
      if (this.stopped) return;
      if (event.code === POLICY_VIOLATION) {
        session.expire("Your key was revoked or has expired. Sign in with another key.");
        return;
      }
      if (!opened) {
        // The upgrade was refused: a plain request says why (a 401 signs out; an overload or a
        // dead network shows its message) and the retry goes on.
        api("GET", "/api/v1/config/retention").catch(() => {});
      }
      this.failures += 1;
      this.onState("reconnecting");
      const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** (this.failures - 1));
      this.timer = setTimeout(() => this.connect(), delay * (0.75 + Math.random() / 2));
    });
  }
}
