// The page's only link to the service: the public HTTP API, same origin.

/** A failed call, with what the API said (status 0: the API was not reached). */
export class ApiError extends Error {
  constructor({ status, kind = "", detail = "", retryAfter = null }) {
    super(detail || kind || `HTTP ${status}`);
    this.status = status;
    this.kind = kind;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

// What each status means for a person; the API's detail says the rest.
const MEANING = {
  0: "Could not reach the API (network error or the server is down)",
  401: "An API key is needed (keys are on for this API)",
  404: "Not found",
  413: "The request is too large",
  422: "The API refused the input",
  429: "Too many requests",
  500: "The API failed",
  502: "A worker failed while classifying",
  503: "The service cannot take work right now",
  504: "No answer before the deadline",
};

/**
 * One sentence for a person: what happened, the API's reason, when to retry.
 * `rewriteDetail` lets a caller translate positions (texts[3]) into its own terms.
 */
export function explain(error, rewriteDetail = (detail) => detail) {
  if (!(error instanceof ApiError)) {
    return `Unexpected error in the page: ${error?.message ?? error}`;
  }
  const head = MEANING[error.status] ?? `The API answered HTTP ${error.status}`;
  const code = error.status ? ` (${error.status}${error.kind ? ` ${error.kind}` : ""})` : "";
  let message = `${head}${code}`;
  if (error.detail) message += `: ${rewriteDetail(error.detail)}`;
  if (error.retryAfter !== null) message += ` — retry after ${error.retryAfter} s`;
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date; null when absent. */
function retryAfterSeconds(header) {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

// The API key the user entered, kept for this tab only (sessionStorage: gone when the
// tab closes, never shared with other tabs), and sent as a header: never in a URL.
const KEY_ITEM = "spectrum.apiKey";

/** The key kept for this tab, or "" when none is. */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_ITEM) ?? "";
  } catch {
    return ""; // storage blocked: no key kept
  }
}

/** Keep `key` for this tab's calls ("" forgets it). */
export function setApiKey(key) {
  const trimmed = key.trim();
  if (trimmed) sessionStorage.setItem(KEY_ITEM, trimmed);
  else sessionStorage.removeItem(KEY_ITEM);
}

function keyHeader() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

async function send(path, init) {
  try {
    const headers = { accept: "application/json", ...keyHeader(), ...init.headers };
    return await fetch(path, { ...init, headers });
  } catch (cause) {
    throw new ApiError({ status: 0, detail: String(cause?.message ?? cause) });
  }
}

async function call(path, init = {}) {
  const response = await send(path, init);
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's error page or a cut connection; the status still speaks.
  }
  if (response.ok && body !== null) return body;
  throw failure(response, body);
}

function failure(response, body) {
  const status = response.ok ? 502 : response.status;
  return new ApiError({
    status,
    kind: typeof body?.error === "string" ? body.error : "",
    detail: typeof body?.detail === "string" ? body.detail
      : response.ok ? "the answer was not JSON" : response.statusText,
    retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
  });
}

export const getJson = (path) => call(path);

const postJson = (path, body) => call(path, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

// `model` (a name or an alias) is left out when null: a gateway of one model refuses it.
const withModel = (body, model) => (model ? { ...body, model } : body);

/** POST /v1/predict with a list of texts; resolves to the API's answer. */
export const predict = (texts, model = null) => postJson("/v1/predict", withModel({ texts }, model));

/** POST /v1/compare: one text through two or more models, answers side by side. */
export const compare = (text, models) => postJson("/v1/compare", { text, models });

/**
 * POST /v1/jobs: a list of texts as JSON, or a File sent as it is (multipart), so that
 * the API's own reader, the only one, decides what the file holds (its model: ?model=).
 */
export function submitJob(source, model = null) {
  if (source instanceof Blob) {
    const form = new FormData();
    form.append("file", source, source.name ?? "upload.csv");
    const query = model ? `?${new URLSearchParams({ model })}` : "";
    return call(`/v1/jobs${query}`, { method: "POST", body: form });
  }
  return postJson("/v1/jobs", withModel({ texts: source }, model));
}

/** GET /v1/jobs/{id}: state and progress. */
export const getJob = (statusUrl) => call(statusUrl);

/** DELETE /v1/jobs/{id}: cancel; resolves to the job, now cancelled. */
export const cancelJob = (statusUrl) => call(statusUrl, { method: "DELETE" });

/** GET /v1/jobs/{id}/results as NDJSON: every finished result, in input order. */
export async function jobResults(resultsUrl) {
  const response = await send(resultsUrl, { headers: { accept: "application/x-ndjson" } });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status still speaks.
    }
    throw failure(response, body);
  }
  const text = await response.text();
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/**
 * A link to a job's results as CSV. With a key set the link cannot carry it (a key never
 * goes in a URL), so the CSV is fetched with the key's header and linked as a blob.
 */
export async function resultsCsvLink(resultsUrl) {
  const url = `${resultsUrl}?format=csv`;
  if (!apiKey()) return url;
  const response = await send(url, { headers: { accept: "text/csv" } });
  if (!response.ok) throw failure(response, null);
  return URL.createObjectURL(await response.blob());
}
