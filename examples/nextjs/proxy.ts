// Next.js 16 renamed middleware to proxy. Signed-out users are sent to sign-in before the chat page and the
// chat pass-through route; the backend still verifies every token itself.
import { NextResponse, type NextRequest } from "next/server";
import { getSessionCookie } from "better-auth/cookies";

export function proxy(request: NextRequest) {
  if (getSessionCookie(request)) return NextResponse.next();
  if (request.nextUrl.pathname.startsWith("/api/")) {
    return NextResponse.json(
      { error: { code: "unauthorized", message: "Sign in first." } },
      { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="todo-chat"' } },
    );
  }
  return NextResponse.redirect(new URL(`/sign-in?next=${request.nextUrl.pathname}`, request.url));
}

export const config = {
  // The chat stream must not be touched by anything else: only these paths run through the proxy.
  matcher: ["/dashboard/chat/:path*", "/api/chat/:path*"],
};
