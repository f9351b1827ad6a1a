// Better Auth's own database: an SQLite file by default (better-sqlite3, compiled on install), PostgreSQL when
// AUTH_DATABASE_URL is a postgres:// or postgresql:// URL. Its tables are created when the server starts
// (instrumentation.ts).
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Pool } from "pg";

export const DEFAULT_AUTH_SQLITE_FILE = ".data/auth.sqlite";

export function authDatabase(url: string | undefined): Database.Database | Pool {
  if (url && /^postgres(ql)?:\/\//.test(url)) return new Pool({ connectionString: url, max: 5 });
  const file = url ? url.replace(/^(sqlite|file):(\/\/)?/, "") : DEFAULT_AUTH_SQLITE_FILE;
  mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma("journal_mode = WAL"); // the app reads while a sign-up writes
  return database;
}
