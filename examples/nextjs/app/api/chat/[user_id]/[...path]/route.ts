// Optional: pass the chat function's stream through our own origin, unbuffered.
// Only /api/{user_id}/chatkit and /api/{user_id}/chat are forwarded; auth stays with the backend (the chat
// token travels in the Authorization header and is verified there).
export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 120; // as long as the chat function's timeout

const UPSTREAM = process.env.TODO_CHAT_FUNCTION_URL!;
const ALLOWED = new Set(["chatkit", "chat"]);

export async function POST(request: Request, context: { params: Promise<{ user_id: string; path: string[] }> }) {
  const { user_id, path } = await context.params;
  if (path.length !== 1 || !ALLOWED.has(path[0])) {
    return Response.json({ error: { code: "not_found", message: "There is no such route." } }, { status: 404 });
  }
  const upstream = await fetch(`${UPSTREAM}/api/${encodeURIComponent(user_id)}/${path[0]}`, {
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

  const headers = new Headers();
  headers.set("Content-Type", upstream.headers.get("content-type") ?? "text/event-stream");
  // Keep Vercel (and any proxy) from buffering or compressing the stream.
  headers.set("Cache-Control", "no-cache, no-transform");
  headers.set("X-Accel-Buffering", "no");
  headers.set("Connection", "keep-alive");
  headers.set("Content-Encoding", "none");
  for (const name of ["retry-after", "x-request-id"]) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  return new Response(upstream.body, { status: upstream.status, headers });
}
