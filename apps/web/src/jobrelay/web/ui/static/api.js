// The JSON API, same origin: the session cookie goes along by itself.

// The API sits at the app's root, one folder above the page (/ui/).
const ROOT = new URL("../", document.baseURI);

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(status, detail));
    this.status = status;
    this.detail = detail;
  }

  // 404 or 405 on a route: this server does not have that endpoint (yet).
  get missing() {
    return this.status === 405 || (this.status === 404 && this.detail === "Not Found");
  }
}

function describe(status, detail) {
  if (Array.isArray(detail)) {
    return detail
      .map((d) => (d.loc ? `${d.loc.join(".")}: ${d.msg}` : d.msg || JSON.stringify(d)))
      .join("; ");
  }
  if (typeof detail === "string") return `${status}: ${detail}`;
  return `HTTP ${status}`;
}

export function url(path, query) {
  const target = new URL(path.replace(/^\//, ""), ROOT);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target;
}

// GET or POST ``path``; the parsed JSON body. ``body`` goes as JSON; ``accept``
// lists statuses other than 2xx whose body is still the answer (/readyz says
// 503 with its states).
export async function api(path, { method = "GET", query, body, accept = [] } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, query), {
    method,
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    // The session ended (or the token changed): back to the sign-in form.
    window.location.replace(new URL("./", document.baseURI).pathname);
    throw new ApiError(401, "sign in again");
  }
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok && !accept.includes(response.status)) {
    throw new ApiError(response.status, answer && answer.detail !== undefined ? answer.detail : answer);
  }
  return answer;
}

// ``api`` for an endpoint that may not exist on this server: null when it does not.
export async function optional(path, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && error.missing) return null;
    throw error;
  }
}
