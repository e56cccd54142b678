/**
 * The slice of a PostgreSQL connection the platform needs. Two implementations, over `pg` (real
 * PostgreSQL) and over PGlite (embedded), run the very same SQL: that is what lets the embedded
 * mode pass the same contract tests as the real adapters.
 */
export interface Sql {
  /**
   * One statement with $1.. parameters; returns the rows. `prepare` names a statement that runs
   * often: PostgreSQL then parses and plans it once per connection instead of on every call.
   */
  query<Row = Record<string, unknown>>(text: string, params?: unknown[], prepare?: string): Promise<Row[]>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Runs fn in one transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  readonly kind: "postgres" | "embedded";
  close(): Promise<void>;
}

/** SQL identifiers the platform builds from names (schemas, tables): refuse anything odd. */
export function identifier(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a safe SQL identifier: "${name}"`);
  return name;
}
