// Runs once when the server starts: Better Auth's tables are created (or brought up to date) in its database
// before the first request, so a fresh checkout needs no separate migrate step.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { migrateAuthDatabase } = await import("@/lib/auth-migrate");
  await migrateAuthDatabase();
}
