// The browser's Better Auth client, with the JWT plugin: `authClient.token()` returns a JWT the backend verifies
// (EdDSA through {BETTER_AUTH_URL}/api/auth/jwks, or HS256 with the shared secret).
"use client";

import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

export const authClient = createAuthClient({
  // Where Better Auth is mounted; the same origin as this app when it serves /api/auth/[...all] itself.
  baseURL: process.env.NEXT_PUBLIC_BETTER_AUTH_URL,
  plugins: [jwtClient()],
});

export const { useSession, signIn, signUp, signOut } = authClient;
