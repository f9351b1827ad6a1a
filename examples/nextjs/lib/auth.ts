// Better Auth, mounted by this app at /api/auth/[...all]: email and password, and the JWT plugin, whose EdDSA tokens
// the backend verifies through {BETTER_AUTH_URL}/api/auth/jwks (issuer and audience: BETTER_AUTH_URL, which is what
// the backend checks when its own BETTER_AUTH_URL points here). Server code only: it opens the auth database.
import { betterAuth } from "better-auth";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { authDatabase } from "@/lib/auth-database";

export const auth = betterAuth({
  // BETTER_AUTH_URL (this app's origin) and BETTER_AUTH_SECRET come from the environment, as Better Auth reads them.
  database: authDatabase(process.env.AUTH_DATABASE_URL),
  emailAndPassword: { enabled: true, minPasswordLength: 8 },
  plugins: [jwt({ jwks: { keyPairConfig: { alg: "EdDSA", crv: "Ed25519" } } }), nextCookies()],
});
