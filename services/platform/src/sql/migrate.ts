import { identifier, type Sql } from "./sql.js";

/** One schema change; `sql` may use {schema}. Ids are applied in order, each exactly once. */
export interface Migration {
  id: string;
  sql: string;
}

/**
 * Applies the migrations not yet recorded in {schema}.migrations, in one transaction under an
 * advisory lock so that two processes starting at once do not race.
 */
export async function migrate(db: Sql, schema: string, migrations: Migration[]): Promise<string[]> {
  const s = identifier(schema);
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`tigw-migrate:${s}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`);
    const done = new Set((await tx.query<{ id: string }>(`SELECT id FROM ${s}.migrations`)).map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await tx.exec(m.sql.replaceAll("{schema}", s));
      await tx.query(`INSERT INTO ${s}.migrations (id) VALUES ($1)`, [m.id]);
      applied.push(m.id);
    }
    return applied;
  });
}
