import { isIP } from "node:net";
import { migrate, ValidationError, type Sql } from "@tigw/platform";

/**
 * Where each unit's Konnektor interface (the gateway's HTTPS SOAP endpoint of that unit) listens,
 * as the gateway announces it when the endpoint opens: the Zugangsmodul carries a practice's SOAP
 * calls there. Deployment facts, not domain history: a table, the last announcement wins.
 */
export class KonnektorAddresses {
  private constructor(
    private readonly sql: Sql,
    private readonly schema: string,
  ) {}

  static async open(sql: Sql, schema: string): Promise<KonnektorAddresses> {
    await migrate(sql, schema, [
      {
        id: "001-konnektor-endpoints",
        sql: `CREATE TABLE {schema}.konnektor_endpoints (unit_id text PRIMARY KEY, address text NOT NULL, announced_at timestamptz NOT NULL DEFAULT now());`,
      },
    ]);
    return new KonnektorAddresses(sql, schema);
  }

  async announce(unitId: string, address: string): Promise<void> {
    if (!/^[A-Za-z0-9-]{1,80}$/.test(unitId)) throw new ValidationError("INVALID_ARGUMENT", "unitId", "a unit id");
    const [host, port] = splitAddress(address);
    const name = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host);
    if ((!name && isIP(host) === 0) || !(port >= 1 && port <= 65535))
      throw new ValidationError("INVALID_ARGUMENT", "address", "the Konnektor's address is HOST:PORT (a host name or IP address and a port)");
    await this.sql.query(
      `INSERT INTO ${this.schema}.konnektor_endpoints (unit_id, address) VALUES ($1, $2)
       ON CONFLICT (unit_id) DO UPDATE SET address = EXCLUDED.address, announced_at = now()`,
      [unitId, address],
    );
  }

  /** host:port of the unit's endpoint, or undefined when the gateway has not opened it yet. */
  async addressOf(unitId: string): Promise<string | undefined> {
    const [row] = await this.sql.query<{ address: string }>(`SELECT address FROM ${this.schema}.konnektor_endpoints WHERE unit_id = $1`, [unitId]);
    return row?.address;
  }
}

/** "host:port" or "[v6]:port" into host and port (port NaN when missing). */
export function splitAddress(address: string): [string, number] {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  return m ? [m[1]!, Number(m[2])] : ["", NaN];
}
