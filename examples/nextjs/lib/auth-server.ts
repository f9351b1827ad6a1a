// The signed-in user of a request, on the server: Better Auth's own get-session endpoint, asked over HTTP with the
// request's cookies. Going through HTTP keeps route handlers independent of where Better Auth runs (this app's
// /api/auth/[...all], or a separate auth service) and lets a test present a session with a tiny local server.
const BETTER_AUTH_URL = process.env.BETTER_AUTH_URL ?? "";

export type SignedInUser = { id: string };

export async function signedInUser(request: Request): Promise<SignedInUser | null> {
  const cookie = request.headers.get("cookie");
  if (!cookie || !BETTER_AUTH_URL) return null;
  const response = await fetch(`${BETTER_AUTH_URL}/api/auth/get-session`, {
    headers: { cookie, accept: "application/json" },
    cache: "no-store",
  });
  if (!response.ok) return null;
  const body = (await response.json().catch(() => null)) as { user?: { id?: unknown } } | null;
  const id = body?.user?.id;
  return typeof id === "string" && id ? { id } : null;
}
