// Optional: pass the chat function's stream through our own origin, unbuffered.
// Only POST /api/{user_id}/chatkit and /api/{user_id}/chat, and GET /api/{user_id}/tasks/search (the composer's
// @-mentions and the task list beside the chat, lib/tasks.ts), are forwarded, and only for the signed-in user's id.
// The chat token travels on in the Authorization header and the backend verifies it; what comes back that a client
// needs (the status, WWW-Authenticate on a 401, Retry-After on a 429) is passed back unchanged.
// ChatKit's Stop aborts its stream; behind a Lambda Function URL that abort never reaches the chat function, so this
// route relays it: when the browser aborts a ChatKit stream of a known thread, it calls that thread's stop endpoint
// with the user's token (deploy with ChatAbortRelayed=true so ChatKit shows its Stop button; docs/deploy.md, "Stop").
import { signedInUser } from "@/lib/auth-server";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 120; // as long as the chat function's timeout

const UPSTREAM = process.env.TODO_CHAT_FUNCTION_URL ?? "";
const ALLOWED = new Set(["chatkit", "chat"]);
const SEARCH_PARAMS = ["q", "limit", "cursor"];
const PASSED_BACK = ["content-type", "retry-after", "www-authenticate", "x-request-id"];

function error(status: number, code: string, message: string, headers?: HeadersInit): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

type Context = { params: Promise<{ user_id: string; path: string[] }> };

export async function POST(request: Request, context: Context) {
  const { user_id, path } = await context.params;
  if (path.length !== 1 || !ALLOWED.has(path[0])) return error(404, "not_found", "There is no such route.");
  const refused = await refusal(request, user_id);
  if (refused) return refused;
  const base = `${UPSTREAM}/api/${encodeURIComponent(user_id)}`;
  if (path[0] !== "chatkit") return passBack(request, () => forward(request, `${base}/${path[0]}`));
  const body = await request.text();
  const relay = relayAbort(request, base, threadOf(body));
  const response = await passBack(request, () => forward(request, `${base}/chatkit`, body));
  if (!response.body) return response;
  return new Response(response.body.pipeThrough(relay), { status: response.status, headers: response.headers });
}

/** The thread a ChatKit request names (none for `threads.create`: its stream names it in `thread.created`). */
function threadOf(body: string): string | undefined {
  try {
    const threadId = JSON.parse(body)?.params?.thread_id;
    return typeof threadId === "string" ? threadId : undefined;
  } catch {
    return undefined;
  }
}

const THREAD_CREATED = /"type":"thread\.created","thread":\{"id":"([^"]+)"/;

/** Passes the stream on; if the browser aborts before it ends, asks the chat function to stop the thread's answer. */
function relayAbort(request: Request, base: string, named: string | undefined): TransformStream<Uint8Array> {
  let threadId = named;
  let ended = false;
  let start = "";
  const decoder = new TextDecoder();
  request.signal.addEventListener("abort", () => {
    if (ended || !threadId) return;
    fetch(`${base}/chatkit/threads/${encodeURIComponent(threadId)}/stop`, {
      method: "POST",
      headers: { Authorization: request.headers.get("authorization") ?? "" },
      cache: "no-store",
    }).catch(() => undefined); // best effort: the answer still ends by its deadline
  });
  return new TransformStream({
    transform(chunk, controller) {
      if (!threadId && start.length < 65_536) {
        start += decoder.decode(chunk, { stream: true });
        threadId = THREAD_CREATED.exec(start)?.[1];
      }
      controller.enqueue(chunk);
    },
    flush() {
      ended = true;
    },
  });
}

export async function GET(request: Request, context: Context) {
  const { user_id, path } = await context.params;
  if (path.join("/") !== "tasks/search") return error(404, "not_found", "There is no such route.");
  const refused = await refusal(request, user_id);
  if (refused) return refused;
  const query = new URLSearchParams();
  for (const [name, value] of new URL(request.url).searchParams) {
    if (SEARCH_PARAMS.includes(name)) query.append(name, value);
  }
  const url = `${UPSTREAM}/api/${encodeURIComponent(user_id)}/tasks/search?${query}`;
  return passBack(request, () =>
    fetch(url, {
      headers: { Authorization: request.headers.get("authorization") ?? "", Accept: "application/json" },
      signal: request.signal,
      cache: "no-store",
    }),
  );
}

/** No session: 401; another user's id in the path: 403; Better Auth unreachable: 502. */
async function refusal(request: Request, userId: string): Promise<Response | null> {
  const user = await signedInUser(request).catch(() => undefined);
  if (user === undefined) return error(502, "auth_unavailable", "The sign-in service cannot be reached.");
  if (!user) {
    return error(401, "unauthorized", "Sign in first.", { "WWW-Authenticate": 'Bearer realm="todo-chat"' });
  }
  if (user.id !== userId) return error(403, "forbidden", "You may not access another user's data.");
  return null;
}

async function passBack(request: Request, send: () => Promise<Response>): Promise<Response> {
  let upstream: Response;
  try {
    upstream = await send();
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

function forward(request: Request, url: string, body: BodyInit | null = request.body): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      Authorization: request.headers.get("authorization") ?? "",
      "Content-Type": request.headers.get("content-type") ?? "application/json",
      Accept: request.headers.get("accept") ?? "text/event-stream",
    },
    body,
    // @ts-expect-error Node's fetch needs this to send a streamed request body
    duplex: "half",
    signal: request.signal,
    cache: "no-store",
  });
}
