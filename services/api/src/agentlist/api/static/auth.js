// The token the Studio sends with every request. Pure (no DOM) so that node can import and test
// it; the page keeps the token in sessionStorage (gone with the tab), never in a URL.

/** The sessionStorage key the token is kept under. */
export const TOKEN_KEY = "agentlist.token";

const BEARER = /^bearer\s+/i;
/** Three base64url segments (an unsigned JWT's last one is empty). */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The headers that carry `token`: `Authorization: Bearer …` for a value written as
 * `Bearer …` or shaped like a JWT, else `x-api-key` (what the SDKs send for an API key).
 * @param {string | null | undefined} token
 * @returns {Record<string, string>}
 */
export function authHeaders(token) {
  const value = (token ?? "").trim();
  if (value === "") return {};
  if (BEARER.test(value)) return { Authorization: `Bearer ${value.replace(BEARER, "")}` };
  if (JWT.test(value)) return { Authorization: `Bearer ${value}` };
  return { "x-api-key": value };
}

/**
 * What to tell the user when the server answers 401 or 403, or null for any other status.
 * @param {number} status
 * @param {boolean} hasToken whether a token was sent
 * @param {string} detail the server's `detail`
 * @returns {string | null}
 */
export function authProblem(status, hasToken, detail) {
  const why = detail ? ` (${status}: ${detail})` : ` (${status})`;
  if (status === 401 && !hasToken) {
    return `This server needs a token${why}. Enter a bearer token (JWT) or an API key under Token.`;
  }
  if (status === 401) return `The server did not accept the token${why}. Enter another one under Token.`;
  if (status === 403) return `The token is not allowed to do this${why}. Enter another one under Token.`;
  return null;
}
