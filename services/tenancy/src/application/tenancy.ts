import { randomUUID, type KeyObject } from "node:crypto";
import {
  Coalescer,
  CommandHandler,
  DomainError,
  KeyedSerializer,
  NO_STREAM,
  StoreProjectionRunner,
  VersionConflictError,
  type Clock,
  type SqlEventStore,
} from "@tigw/platform";
import { parseLicenceFile } from "../domain/licence.js";
import type { Profile } from "../domain/profiles.js";
import { initialUnitState, unitDecider, type UnitCommand, type UnitState } from "../domain/unit.js";
import { fleetProjection, type UnitView } from "./fleet-projection.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const unitStream = (unitId: string) => `unit-${unitId}`;
/** One stream per serial number claims it for one unit id: the fleet-wide uniqueness rule. */
const serialStream = (serial: string) => `serial-${serial}`;

export interface TenancyDeps {
  store: SqlEventStore;
  clock: Clock;
  profiles: Profile[];
  /** Public keys of the vendors whose licence files this fleet accepts. */
  vendorKeys: KeyObject[];
}

/**
 * The tenancy application: runs commands on Unit streams (serialised per unit in this process,
 * guarded by the expected version across processes) and answers queries from the fleet read
 * model, which it brings up to date before answering a command so callers read their writes.
 */
export class Tenancy {
  private readonly handler: CommandHandler<UnitState, UnitCommand, ReturnType<typeof unitDecider.decide>[number]>;
  private readonly perUnit = new KeyedSerializer();
  private readonly projection: StoreProjectionRunner;
  private readonly fleet: ReturnType<typeof fleetProjection>;
  private readonly refresh: Coalescer;
  readonly schema: string;

  private constructor(private readonly deps: TenancyDeps) {
    this.handler = new CommandHandler(deps.store, unitDecider, 10, 10_000);
    this.schema = deps.store.schema;
    this.fleet = fleetProjection(this.schema);
    this.projection = new StoreProjectionRunner(deps.store, this.fleet);
    this.refresh = new Coalescer(() => this.projection.catchUp());
  }

  static async open(deps: TenancyDeps): Promise<Tenancy> {
    const t = new Tenancy(deps);
    await t.projection.setup();
    await t.projection.catchUp();
    return t;
  }

  get profiles(): Profile[] {
    return this.deps.profiles;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** Names (ids and serials) already resolved: a unit's id and serial never change. */
  private readonly known = new Map<string, string>();

  /** A unit named by id or serial number -> its id; UNIT_NOT_FOUND otherwise. */
  async resolve(unit: string): Promise<string> {
    const hit = this.known.get(unit);
    if (hit) return hit;
    const unitId = await this.lookup(unit);
    if (this.known.size > 20_000) this.known.clear();
    this.known.set(unit, unitId);
    return unitId;
  }

  private async lookup(unit: string): Promise<string> {
    const notFound = () => new DomainError("UNIT_NOT_FOUND", `no unit with id or serial "${unit}"`, { field: "unit", value: unit });
    if (!unit) throw notFound();
    if (UUID.test(unit)) {
      const { version } = await this.deps.store.readStream(unitStream(unit.toLowerCase()));
      if (version > 0) return unit.toLowerCase();
    }
    const claim = await this.claimOf(unit);
    if (!claim) throw notFound();
    const { version } = await this.deps.store.readStream(unitStream(claim));
    if (version === 0) throw notFound();
    return claim;
  }

  private async claimOf(serial: string): Promise<string | undefined> {
    const { events } = await this.deps.store.readStream(serialStream(serial));
    return (events[0]?.data as { unitId?: string } | undefined)?.unitId;
  }

  async createUnit(req: { serial: string; profile: string; firmware?: string; producedOn?: string }): Promise<UnitView> {
    const at = this.now();
    const profile = this.deps.profiles.find((p) => p.name === req.profile);
    const command = (unitId: string): UnitCommand => ({
      type: "CreateUnit",
      unitId,
      serial: req.serial,
      profileName: req.profile,
      profile,
      firmware: req.firmware,
      producedOn: req.producedOn,
      at,
    });
    // Validate before claiming the serial, so a refused command leaves nothing behind.
    unitDecider.decide(command("validation"), initialUnitState());
    let unitId: string = randomUUID();
    try {
      await this.deps.store.append(
        serialStream(req.serial),
        NO_STREAM,
        [{ type: "SerialClaimed", data: { serial: req.serial, unitId }, unitId }],
        new Date(at),
      );
    } catch (e) {
      if (!(e instanceof VersionConflictError)) throw e;
      const claimed = (await this.claimOf(req.serial))!;
      const { version } = await this.deps.store.readStream(unitStream(claimed));
      if (version > 0)
        throw new DomainError("SERIAL_EXISTS", `a unit with serial ${req.serial} exists`, { field: "serial", value: req.serial, unitId: claimed });
      unitId = claimed; // a claim whose unit was never written (crash in between): finish it
    }
    return (await this.run(unitId, command(unitId))).view;
  }

  /** Runs a command on a unit stream and returns the refreshed read model of the unit. */
  private async run(unitId: string, command: UnitCommand): Promise<{ view: UnitView; changed: boolean }> {
    const result = await this.perUnit.run(unitId, () => this.handler.handle(unitStream(unitId), command, { unitId, occurredAt: new Date(command.at) }));
    // Keep the read model close behind (list queries after this command see it), but answer from
    // the state the command produced: on PostgreSQL the projection may still wait for an older
    // transaction of another command to commit.
    await this.refresh.trigger();
    return { view: { ...result.state, version: result.nextExpectedVersion }, changed: result.events.length > 0 };
  }

  async changeState(unit: string, action: string, reason?: string): Promise<UnitView> {
    const unitId = await this.resolve(unit);
    return (await this.run(unitId, { type: "ChangeUnitState", action: action as "activate", reason, at: this.now() })).view;
  }

  async addMandant(unit: string, m: { mandantId: string; name: string; bsnr?: string; smcbIccsn?: string }): Promise<UnitView> {
    const unitId = await this.resolve(unit);
    return (await this.run(unitId, { type: "AddMandant", ...m, at: this.now() })).view;
  }

  async reserveKtSlot(unit: string, ctId: string): Promise<{ computeUnit: number; unit: UnitView }> {
    const unitId = await this.resolve(unit);
    const { view } = await this.run(unitId, { type: "ReserveKtSlot", ctId, at: this.now() });
    return { computeUnit: view.slots[ctId]!, unit: view };
  }

  async releaseKtSlot(unit: string, ctId: string): Promise<{ released: boolean; unit: UnitView }> {
    const unitId = await this.resolve(unit);
    const { view, changed } = await this.run(unitId, { type: "ReleaseKtSlot", ctId, at: this.now() });
    return { released: changed, unit: view };
  }

  async importLicence(unit: string, licenceFile: string): Promise<UnitView> {
    const unitId = await this.resolve(unit);
    const file = parseLicenceFile(licenceFile);
    return (await this.run(unitId, { type: "ImportLicence", file, vendorKeys: this.deps.vendorKeys, at: this.now() })).view;
  }

  /** The unit now runs `firmware` (ksr's FirmwareInstalled); at its time, not this process's. */
  async recordFirmware(unitId: string, firmware: string, updateId: string, at: string): Promise<UnitView> {
    return (await this.run(unitId, { type: "RecordFirmware", firmware, updateId, at })).view;
  }

  async getUnit(unit: string): Promise<UnitView> {
    const unitId = await this.resolve(unit);
    await this.refresh.trigger();
    const view = await this.fleet.get(this.deps.store.sql, unitId);
    if (view) return view;
    // Created a moment ago by another command whose projection is not through yet.
    const { state, version } = await this.handler.load(unitStream(unitId));
    return { ...state, version };
  }

  async listUnits(): Promise<UnitView[]> {
    await this.refresh.trigger();
    return this.fleet.list(this.deps.store.sql, "serial");
  }

  /** Empties the read model and replays every event (operators: after a projection change). */
  async rebuildReadModels(): Promise<number> {
    return this.projection.rebuild();
  }
}
