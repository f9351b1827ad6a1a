import { auth } from "@/lib/auth";

/** Better Auth's own migration (what its CLI's `migrate` runs): creates or completes its tables; idempotent. */
export async function migrateAuthDatabase(): Promise<void> {
  const context = await auth.$context;
  await context.runMigrations();
}
