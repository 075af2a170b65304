// The service's API as the studio calls it: the pasted key on every call, errors as one line.

const KEY_STORE = "brushwork.key";

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY_STORE) || "",
  set: (value) => value ? sessionStorage.setItem(KEY_STORE, value) : sessionStorage.removeItem(KEY_STORE),
};

// One line a person understands, from the service's {"error": {"code", "message"}}.
function sentence(status, code, message, headers) {
  const retry = headers.get("retry-after");
  switch (code) {
    case "unauthorized": return "The server needs a valid API key: paste yours at the top and press Use key.";
    case "forbidden": return "This API key was revoked: ask for a new one.";
    case "rate_limited": return `Too many requests for this key: try again in ${retry || "a few"} s.`;
    case "busy": return `The server is busy: try again in ${retry || "a few"} s.`;
    case "database_unavailable": return `The server's database does not answer: try again in ${retry || "a few"} s.`;
    case "quota_exceeded": return `This key's monthly quota is used up: ${message}`;
    case "too_large": return "That file is too large for this server.";
    default: return message || `The server answered ${status}.`;
  }
}

export async function call(path, { method = "GET", form = null } = {}) {
  const headers = {};
  if (key.get()) headers.Authorization = `Bearer ${key.get()}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: form });
  } catch {
    throw new ApiFailure(0, "offline", "The server does not answer: is brushwork serve running?");
  }
  if (response.ok) return response;
  let code = "error", message = "";
  try {
    const body = await response.json();
    ({ code, message } = body.error);
  } catch { /* not JSON: keep the status */ }
  throw new ApiFailure(response.status, code, sentence(response.status, code, message, response.headers));
}

export async function json(path, options) {
  return (await call(path, options)).json();
}
