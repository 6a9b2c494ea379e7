// Server-sent events, parsed incrementally from text chunks as fetch delivers them.
// Pure (no DOM) so that node can import and test it.

/**
 * @typedef {{event: string, data: string, id: string | null}} SSEEvent
 */

export class SSEParser {
  #buffer = "";
  #event = "";
  /** @type {string[]} */
  #data = [];
  /** @type {string | null} */
  #id = null;

  /**
   * Feed a chunk; returns the events it completed.
   * @param {string} chunk
   * @returns {SSEEvent[]}
   */
  push(chunk) {
    this.#buffer += chunk;
    return this.#drain(false);
  }

  /**
   * The stream ended: a last unterminated line still counts, but an event without its blank
   * line is dropped, as the SSE spec says.
   * @returns {SSEEvent[]}
   */
  end() {
    const events = this.#drain(true);
    this.#reset();
    return events;
  }

  /** @param {boolean} final */
  #drain(final) {
    /** @type {SSEEvent[]} */
    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.#buffer)) !== null) {
      // A lone trailing CR may be the first half of a CRLF split across chunks.
      if (!final && match[0] === "\r" && match.index === this.#buffer.length - 1) break;
      const event = this.#line(this.#buffer.slice(start, match.index));
      if (event !== null) events.push(event);
      start = lineEnd.lastIndex;
    }
    this.#buffer = this.#buffer.slice(start);
    if (final && this.#buffer !== "") {
      this.#line(this.#buffer);
      this.#buffer = "";
    }
    return events;
  }

  /**
   * @param {string} line
   * @returns {SSEEvent | null}
   */
  #line(line) {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null; // a comment: heartbeats
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    return null;
  }

  #dispatch() {
    const event =
      this.#data.length === 0
        ? null
        : { event: this.#event || "message", data: this.#data.join("\n"), id: this.#id };
    this.#reset();
    return event;
  }

  #reset() {
    this.#event = "";
    this.#data = [];
    this.#id = null;
  }
}

/**
 * Every complete event of a whole SSE text.
 * @param {string} text
 * @returns {SSEEvent[]}
 */
export function parseSSE(text) {
  const parser = new SSEParser();
  return [...parser.push(text), ...parser.end()];
}

/**
 * An event's data as JSON, or the raw text when it is not JSON.
 * @param {SSEEvent} event
 * @returns {unknown}
 */
export function eventData(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return event.data;
  }
}
