// Optional: pass the chat function's stream through our own origin, unbuffered.
// Only /api/{user_id}/chatkit and /api/{user_id}/chat are forwarded, and only for the signed-in user's own id.
// The chat token travels on in the Authorization header and the backend verifies it; what comes back that a client
// needs (the status, WWW-Authenticate on a 401, Retry-After on a 429) is passed back unchanged.
import { signedInUser } from "@/lib/auth-server";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 120; // as long as the chat function's timeout

const UPSTREAM = process.env.TODO_CHAT_FUNCTION_URL ?? "";
const ALLOWED = new Set(["chatkit", "chat"]);
const PASSED_BACK = ["content-type", "retry-after", "www-authenticate", "x-request-id"];

function error(status: number, code: string, message: string, headers?: HeadersInit): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

export async function POST(request: Request, context: { params: Promise<{ user_id: string; path: string[] }> }) {
  const { user_id, path } = await context.params;
  if (path.length !== 1 || !ALLOWED.has(path[0])) return error(404, "not_found", "There is no such route.");
  const user = await signedInUser(request).catch(() => undefined);
  if (user === undefined) return error(502, "auth_unavailable", "The sign-in service cannot be reached.");
  if (!user) {
    return error(401, "unauthorized", "Sign in first.", { "WWW-Authenticate": 'Bearer realm="todo-chat"' });
  }
  if (user.id !== user_id) return error(403, "forbidden", "You may not access another user's data.");

  let upstream: Response;
  try {
    upstream = await forward(request, `${UPSTREAM}/api/${encodeURIComponent(user_id)}/${path[0]}`);
  } catch {
    if (request.signal.aborted) return new Response(null, { status: 499 });
    return error(502, "upstream_unavailable", "The chat service cannot be reached; try again in a moment.");
  }

  const headers = new Headers();
  for (const name of PASSED_BACK) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  // Keep Vercel (and any proxy) from buffering or compressing the stream.
  headers.set("Cache-Control", "no-cache, no-transform");
  headers.set("X-Accel-Buffering", "no");
  return new Response(upstream.body, { status: upstream.status, headers });
}

function forward(request: Request, url: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      Authorization: request.headers.get("authorization") ?? "",
      "Content-Type": request.headers.get("content-type") ?? "application/json",
      Accept: request.headers.get("accept") ?? "text/event-stream",
    },
    body: request.body,
    // @ts-expect-error Node's fetch needs this to send a streamed request body
    duplex: "half",
    signal: request.signal,
    cache: "no-store",
  });
}
