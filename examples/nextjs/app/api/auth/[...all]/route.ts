// Better Auth's endpoints: sign-up, sign-in, sign-out, get-session, token (the JWT plugin) and jwks.
import { toNextJsHandler } from "better-auth/next-js";
import { auth } from "@/lib/auth";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET, POST } = toNextJsHandler(auth);
