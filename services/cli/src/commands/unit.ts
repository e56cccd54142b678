import type { SecurityModule } from "@tigw/contracts/hsm/v1/hsm";
import type { Unit } from "@tigw/contracts/tenancy/v1/tenancy";
import { fields, table } from "../output.js";
import { type CommandGroup, day, need, unitPath } from "./command.js";
import { UNIT_FIRMWARE_USAGE, unitFirmwareVerb } from "./ksr.js";
import { mandantRows } from "./mandant.js";

/** A unit as the fleet overview lists it: with its gSMC-K's C.NK.VPN expiry (null when none). */
export type FleetUnit = Unit & {
  gsmck?: { notAfter: string; daysToExpiry: number; exchangeDue: boolean; lzvApplies: boolean; tiAccess: boolean } | null;
  /** Present in the fleet overview: vpn's TI-access rule (null while vpn cannot be asked). */
  ti?: { access: boolean; sis: boolean; blocked: boolean } | null;
};

/** The unit's SOAP endpoint (GET /units/{unit}/soap). */
interface SoapEndpoint {
  serial: string;
  baseUrl: string;
  connectorSds: string;
  clientAuth: string;
  tlsMandatory: boolean;
}

/** The functional check of a unit (GET /units/{unit}/check). */
export interface UnitCheck {
  unit: string;
  status: string;
  checks: { check: string; status: string; detail: string }[];
}

const kts = (u: Unit) => u.computeUnits.map((c) => `${c.ktsUsed}/${c.ktsLimit}`).join(" ");
const gsmck = (u: FleetUnit) =>
  u.gsmck ? `${day(u.gsmck.notAfter)} (${u.gsmck.daysToExpiry} d)${u.gsmck.exchangeDue ? " EXCHANGE" : ""}${u.gsmck.tiAccess ? "" : " NO TI"}` : "-";
const tiColumn = (u: FleetUnit) => (!u.ti ? "?" : u.ti.access ? (u.ti.sis ? "yes+SIS" : "yes") : u.ti.blocked ? "NO (Sperrung)" : "NO");
export const unitRows = (units: FleetUnit[]) =>
  table(
    [
      "SERIAL",
      "PROFILE",
      "STATE",
      "FIRMWARE",
      "PRODUCED",
      "MANDANTEN",
      "KTS PER COMPUTE UNIT",
      ...(units.some((u) => u.gsmck !== undefined) ? ["GSMC-K EXPIRES", "TI"] : []),
    ],
    units.map((u) => [
      u.serial,
      u.profile,
      u.state,
      u.firmware,
      u.producedOn,
      `${u.mandantenCount}/${u.mandantenLimit}`,
      kts(u),
      ...(u.gsmck !== undefined ? [gsmck(u), tiColumn(u)] : []),
    ]),
  );

export function unitDetail(u: Unit): string {
  const l = u.licence!;
  const lic =
    l.source === "file"
      ? `${l.ktPerComputeUnit} KTs per compute unit, features ${l.features.join(", ") || "-"} (licence ${l.licenceId} issued ${l.issuedAt}, key ${l.keyId})`
      : `${l.ktPerComputeUnit} KTs per compute unit (profile base licence)`;
  return [
    fields([
      ["Unit", u.unitId],
      ["Serial", u.serial],
      ["Profile", u.profile],
      ["State", u.state],
      ["Firmware", u.firmware],
      ["Produced", u.producedOn],
      ["Licence", lic],
      ["KTs", u.computeUnits.map((c) => `compute unit ${c.index}: ${c.ktsUsed}/${c.ktsLimit}`).join(", ") + ` (recommended ${u.ktsRecommended})`],
      ["Mandanten", `${u.mandantenCount}/${u.mandantenLimit}`],
    ]),
    ...(u.mandanten.length ? ["", mandantRows(u.mandanten)] : []),
  ].join("\n");
}

export function securityModuleText(m: SecurityModule): string {
  return [
    fields([
      ["Unit", m.serial],
      ["gSMC-K ICCSN", m.iccsn],
      ["TI access", m.tiAccess ? "yes" : "NO"],
      ["LZV licensed", m.lzvLicensed ? "yes" : "no"],
      ["LZV last try", m.lzvLastAttempt ? `${day(m.lzvLastAttempt)} ${m.lzvLastOutcome}` : "-"],
    ]),
    "",
    table(
      ["IDENTITY", "SERIAL", "KEY", "VALID FROM", "VALID UNTIL", "DAYS LEFT", "OCSP", "NOTE"],
      m.identities.map((i) => [
        i.name,
        i.certificate!.certSerial,
        i.certificate!.keyType,
        day(i.certificate!.notBefore),
        day(i.certificate!.notAfter),
        i.daysToExpiry,
        i.certificate!.ocspStatus,
        [i.expired ? "EXPIRED" : "", i.extendedByLzv ? "extended by LZV" : "", i.warnings.length ? `warned at ${i.warnings.join("/")} days` : ""]
          .filter(Boolean)
          .join(", ") || "-",
      ]),
    ),
  ].join("\n");
}

/** Units: create, list, show, lifecycle, functional check, gSMC-K certificates, LZV, Sperrung. */
export const unit: CommandGroup = {
  names: ["unit"],
  usage: `  tigw unit create --serial S --profile rz|einbox [--firmware V] [--produced YYYY-MM-DD]
  tigw unit list | show UNIT              UNIT = unit id or serial number
  tigw unit activate|block|unblock|decommission UNIT [--reason R]
  tigw unit check UNIT                    functional check: state, TI access, terminals, SM-B, reads
                                          (exit 1 when a check fails)
  tigw unit certs UNIT                    the gSMC-K identities, certificates, expiry, OCSP, LZV
  tigw unit lzv UNIT                      run the LZV (Laufzeitverlängerung) now
  tigw unit revoke UNIT [--reason R]      Sperrung: revoke every gSMC-K certificate of the unit
  tigw unit soap UNIT                     the unit's Konnektor address for practice software
                                          (connector.sds, client authentication, trust anchor)
  tigw unit client-auth UNIT --mode none|basic|mtls
                                          how client systems authenticate at the SOAP interface
                                          (credentials: tigw infomodell UNIT client-system ...)

${UNIT_FIRMWARE_USAGE}`,
  async run({ unknown, verb, args: [id], o, show, api }) {
    switch (verb) {
      case "firmware":
      case "update":
      case "update-settings":
        return unitFirmwareVerb(verb, id, o, api(), show);
      case "create": {
        const u = await api().post<Unit>("/api/v1/units", {
          serial: need(o.serial, "--serial"),
          profile: need(o.profile, "--profile"),
          firmware: o.firmware,
          producedOn: o.produced,
        });
        show(u, () => `created unit ${u.serial} (${u.unitId})\n\n${unitDetail(u)}`);
        return 0;
      }
      case "list": {
        const r = await api().get<{ units: Unit[] }>("/api/v1/units");
        show(r, () => (r.units.length ? unitRows(r.units) : "no units yet: tigw unit create --serial S --profile rz"));
        return 0;
      }
      case "show": {
        const u = await api().get<Unit>(unitPath(id));
        show(u, () => unitDetail(u));
        return 0;
      }
      case "activate":
      case "block":
      case "unblock":
      case "decommission": {
        const u = await api().post<Unit>(`${unitPath(id)}/state`, { action: verb, reason: o.reason });
        show(u, () => `unit ${u.serial} is ${u.state}`);
        return 0;
      }
      case "check": {
        const r = await api().get<UnitCheck>(`${unitPath(id)}/check`);
        show(
          r,
          () =>
            `${table(
              ["CHECK", "STATUS", "DETAIL"],
              r.checks.map((c) => [c.check, c.status, c.detail]),
            )}\n\noverall: ${r.status}`,
        );
        return r.status === "error" ? 1 : 0;
      }
      case "certs": {
        const m = await api().get<SecurityModule>(`${unitPath(id)}/certs`);
        show(m, () => securityModuleText(m));
        return 0;
      }
      case "lzv": {
        const m = await api().post<SecurityModule>(`${unitPath(id)}/lzv`, {});
        show(
          m,
          () =>
            `LZV done: ${m.serial}'s certificates now valid until ${day(m.identities[0]!.certificate!.notAfter)} (same keys, ICCSN ${m.iccsn})\n\n${securityModuleText(m)}`,
        );
        return 0;
      }
      case "soap": {
        const e = await api().get<SoapEndpoint>(`${unitPath(id)}/soap`);
        show(e, () =>
          [
            fields([
              ["Unit", e.serial],
              ["Address", e.baseUrl],
              ["connector.sds", e.connectorSds],
              ["TLS", e.tlsMandatory ? "mandatory (HTTPS only)" : "optional"],
              ["Client auth", e.clientAuth],
              ["Trust anchor", "the test TI roots: tigw pki roots --out roots.pem"],
            ]),
            "",
            "Point the practice software's Konnektor address at the Address above and let it trust roots.pem.",
          ].join("\n"),
        );
        return 0;
      }
      case "client-auth": {
        const i = await api().post<{ clientAuth: string }>(`${unitPath(id)}/client-auth`, { mode: need(o.mode, "--mode") });
        show(i, () => `client systems of ${id} authenticate at the SOAP interface with: ${i.clientAuth}`);
        return 0;
      }
      case "revoke": {
        const m = await api().post<SecurityModule>(`${unitPath(id)}/revoke`, { reason: o.reason });
        show(m, () => `revoked every gSMC-K certificate of ${m.serial}; TI access ${m.tiAccess ? "still on" : "off"}`);
        return 0;
      }
    }
    throw unknown();
  },
};
