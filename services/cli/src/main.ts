import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Expiry } from "@tigw/hsm";
import { issueLicence } from "@tigw/tenancy";
import { Api, ApiError } from "./client.js";
import { simulateTerminals } from "./sim/kt-simulator.js";
import { Credentials } from "./credentials.js";
import { fields, table } from "./output.js";

const USAGE = `tigw: operate a ti-gateway fleet

  tigw login --user U --password P [--totp CODE]   (or TIGW_PASSWORD, TIGW_TOTP); the token is stored per user
  tigw logout | whoami                    logout ends the token at the gateway too
  tigw passwd --password OLD --new-password NEW   change your password (other sessions end)
  tigw totp enroll | confirm CODE | disable CODE   a second factor (authenticator app, RFC 6238)
  tigw fleet                              fleet overview with totals
  tigw unit create --serial S --profile rz|einbox [--firmware V] [--produced YYYY-MM-DD]
  tigw unit list | show UNIT              UNIT = unit id or serial number
  tigw unit activate|block|unblock|decommission UNIT [--reason R]
  tigw mandant add UNIT --id M --name N [--bsnr B] [--iccsn SMC-B-ICCSN]
  tigw mandant list UNIT
  tigw licence issue --serial S --kt-per-compute-unit N [--feature PTV5 --feature LZV] --key FILE --out FILE
  tigw licence import UNIT FILE
  tigw unit check UNIT                    functional check: state, TI access, terminals, SM-B, reads
                                          (exit 1 when a check fails)
  tigw unit certs UNIT                    the gSMC-K identities, certificates, expiry, OCSP, LZV
  tigw unit lzv UNIT                      run the LZV (Laufzeitverlängerung) now
  tigw unit revoke UNIT [--reason R]      Sperrung: revoke every gSMC-K certificate of the unit
  tigw fleet expiries [--within 90d]      units by days to gSMC-K expiry, most urgent first
  tigw fleet check                        every unit's functional check; the ones needing attention
                                          first, with what is not ok (exit 1 when a unit fails)
  tigw clock show | advance 30d           the clock (advance: simulated clock only)
  tigw kt add --ct-id KT --mac MAC [--address A --vendor V --model M --firmware F]
  tigw kt pair KT --unit UNIT --cert GSMC-KT-CERT-SERIAL   (prints the pairing secret once)
  tigw kt unpair KT [--reason R] | list [--unit U] [--mandant M] | show KT
  tigw infomodell show UNIT
  tigw infomodell UNIT mandant|client-system|workplace|terminal|workplace-terminal|smb
        [--mandant M] [--client-system CS] [--workplace W] [--ct-id KT] [--kind local|remote] [--iccsn I]
  tigw card list UNIT | pin verify HANDLE --pin P | pin status HANDLE
  tigw sim kt --unit U [--mandant M] --count N [--prefix P] [--hold 30s]
  tigw sim card insert KT --type EGK|HBA|SMC-B|PRUEFKARTE_EGK [--slot N] [--iccsn I] [--pin P] | remove KT --slot N
  tigw vsd read --unit U --mandant M --workplace W --ct-id KT --slot N [--client-system CS]
        [--online-check] [--receipt]       ReadVSD of the eGK in that slot, with the Mandant's SMC-B
        (-o xml: the gematik ReadVSDResponse, or the GERROR Error of a refusal)
  tigw vsd log UNIT [--mandant M] [--outcome ok|warning|error] [--from T] [--to T] [--limit N]
        (T: ISO 8601 time, or a span back from now such as 24h or 7d)
  tigw sim egk insert KT --slot N (--kvnr K | --pruefkarte N)   an insured person's eGK or a Prüfkarte
  tigw sim fachdienst IK no-update|update-pending|not-responsible|unreachable|slow
  tigw profile list
  tigw user list | add --user U --role viewer|operator|admin --password P | remove U
  tigw user role U --role R | reset-password U --password P | reset-totp U

Options: -o table|json (default table), --url URL (default $TIGW_URL or http://127.0.0.1:8080),
         --as USER (use that user's stored token). Exit code 0 ok, 1 refused or failed, 2 usage.`;

class UsageError extends Error {}

interface Unit {
  unitId: string;
  serial: string;
  profile: string;
  firmware: string;
  producedOn: string;
  state: string;
  licence: { licenceId: string; ktPerComputeUnit: number; features: string[]; issuedAt: string; source: string; keyId: string };
  computeUnits: { index: number; ktsUsed: number; ktsLimit: number }[];
  mandantenCount: number;
  mandantenLimit: number;
  ktsRecommended: number;
  mandanten: Mandant[];
  createdAt: string;
  /** Present in the fleet overview: the gSMC-K's C.NK.VPN expiry. */
  gsmck?: { notAfter: string; daysToExpiry: number; exchangeDue: boolean; lzvApplies: boolean; tiAccess: boolean } | null;
}
interface Mandant {
  mandantId: string;
  name: string;
  bsnr: string;
  smcbIccsn: string;
  addedAt: string;
}

interface Cert {
  certSerial: string;
  commonName: string;
  iccsn: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  ocspStatus: string;
}
interface SecurityModule {
  serial: string;
  iccsn: string;
  tiAccess: boolean;
  lzvLicensed: boolean;
  lzvLastAttempt: string;
  lzvLastOutcome: string;
  identities: { name: string; certificate: Cert; daysToExpiry: number; warnings: number[]; expired: boolean; extendedByLzv: boolean }[];
}

interface Card {
  slot: number;
  cardHandle: string;
  cardType: string;
  iccsn: string;
  ctId: string;
  insertedAt: string;
}
interface Terminal {
  ctId: string;
  mac: string;
  vendor: string;
  model: string;
  firmware: string;
  unitId: string;
  computeUnit: number;
  correlation: string;
  connected: boolean;
  certSerial: string;
  cards: Card[];
  refusedConnects: number;
}
interface Infomodell {
  unitId: string;
  mandanten: { mandantId: string; clientSystems: string[]; workplaces: string[]; terminals: string[]; smbs: string[] }[];
  workplaces: { workplaceId: string; clientSystems: string[]; localTerminals: string[]; remoteTerminals: string[] }[];
}
const list = (xs: string[]) => xs.join(", ") || "-";
const terminalRows = (ts: Terminal[]) =>
  table(["CT-ID", "STATE", "CONNECTED", "UNIT", "CU", "MAC", "CARDS"], ts.map((t) => [t.ctId, t.correlation, t.connected ? "yes" : "no", t.unitId || "-", t.computeUnit || "-", t.mac, t.cards.length]));
const cardRows = (cs: Card[]) => table(["CT-ID", "SLOT", "TYPE", "ICCSN", "HANDLE", "INSERTED"], cs.map((c) => [c.ctId, c.slot, c.cardType, c.iccsn, c.cardHandle, c.insertedAt]));
const infomodellText = (i: Infomodell) =>
  [
    table(["MANDANT", "CLIENT SYSTEMS", "WORKPLACES", "TERMINALS", "SM-B"], i.mandanten.map((m) => [m.mandantId, list(m.clientSystems), list(m.workplaces), list(m.terminals), list(m.smbs)])),
    "",
    table(["WORKPLACE", "CLIENT SYSTEMS", "LOCAL TERMINALS", "REMOTE TERMINALS"], i.workplaces.map((w) => [w.workplaceId, list(w.clientSystems), list(w.localTerminals), list(w.remoteTerminals)])),
  ].join("\n");
const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
function parseDurationMs(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new UsageError(`not a duration: ${text} (e.g. 30s, 5m, 24h, 7d)`);
  return Number(m[1]) * UNITS_MS[m[2]!]!;
}
/** A time option: ISO 8601 as given, or a span back from now (24h, 7d) as an ISO time. */
function timeArg(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return /^\d+[smhd]$/.test(text) ? new Date(Date.now() - parseDurationMs(text)).toISOString() : text;
}

interface XmlDoc {
  base64: string;
  xml: string;
}
interface VsdAnswer {
  persoenlicheVersichertendaten: XmlDoc;
  allgemeineVersicherungsdaten: XmlDoc;
  geschuetzteVersichertendaten: XmlDoc;
  pruefungsnachweis: XmlDoc;
  vsdStatus: { status: string };
  result: number;
  errorCode: number;
}
interface ProtocolEntry {
  at: string;
  mandantId: string;
  workplaceId: string;
  ctId: string;
  kvnr: string;
  ocsp: string;
  outcome: string;
  code: string;
  result: number;
  steps: { name: string; ms: number }[];
}
const xmlField = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? "";
const RESULTS: Record<number, string> = {
  1: "update done",
  2: "no update needed",
  3: "update technically impossible",
  4: "eGK authentication certificate invalid",
  5: "online check technically impossible",
  6: "update impossible, maximum offline period exceeded",
};
function vsdText(r: VsdAnswer): string {
  const p = r.persoenlicheVersichertendaten.xml;
  const a = r.allgemeineVersicherungsdaten.xml;
  const date = (d: string) => (d.length === 8 ? `${d.slice(6)}.${d.slice(4, 6)}.${d.slice(0, 4)}` : d);
  return [
    fields([
      ["Versicherten_ID", xmlField(p, "Versicherten_ID")],
      ["Name", [xmlField(p, "Vorname"), xmlField(p, "Vorsatzwort"), xmlField(p, "Nachname")].filter(Boolean).join(" ")],
      ["Geburtsdatum", date(xmlField(p, "Geburtsdatum"))],
      ["Geschlecht", xmlField(p, "Geschlecht")],
      ["Anschrift", `${xmlField(p, "Strasse")} ${xmlField(p, "Hausnummer")}, ${xmlField(p, "Postleitzahl")} ${xmlField(p, "Ort")}`],
      ["Versichert seit", date(xmlField(a, "Beginn"))],
      ["Kostenträger", `${xmlField(a, "Kostentraegerkennung")} ${xmlField(a, "Name")}`],
      ["Versichertenart", xmlField(a, "Versichertenart")],
      ["WOP", xmlField(a, "WOP")],
    ]),
    "",
    r.result ? `Prüfungsnachweis: ${r.result} (${RESULTS[r.result] ?? "?"})${r.errorCode ? `, Fachdienst code ${r.errorCode}` : ""}` : "no Prüfungsnachweis (no online check)",
  ].join("\n");
}

const day = (iso: string) => iso.slice(0, 10);
function securityModuleText(m: SecurityModule): string {
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
        i.certificate.certSerial,
        i.certificate.keyType,
        day(i.certificate.notBefore),
        day(i.certificate.notAfter),
        i.daysToExpiry,
        i.certificate.ocspStatus,
        [i.expired ? "EXPIRED" : "", i.extendedByLzv ? "extended by LZV" : "", i.warnings.length ? `warned at ${i.warnings.join("/")} days` : ""].filter(Boolean).join(", ") || "-",
      ]),
    ),
  ].join("\n");
}

const kts = (u: Unit) => u.computeUnits.map((c) => `${c.ktsUsed}/${c.ktsLimit}`).join(" ");
const gsmck = (u: Unit) => (u.gsmck ? `${day(u.gsmck.notAfter)} (${u.gsmck.daysToExpiry} d)${u.gsmck.exchangeDue ? " EXCHANGE" : ""}${u.gsmck.tiAccess ? "" : " NO TI"}` : "-");
const unitRows = (units: Unit[]) =>
  table(
    ["SERIAL", "PROFILE", "STATE", "FIRMWARE", "PRODUCED", "MANDANTEN", "KTS PER COMPUTE UNIT", ...(units.some((u) => u.gsmck !== undefined) ? ["GSMC-K EXPIRES"] : [])],
    units.map((u) => [u.serial, u.profile, u.state, u.firmware, u.producedOn, `${u.mandantenCount}/${u.mandantenLimit}`, kts(u), ...(u.gsmck !== undefined ? [gsmck(u)] : [])]),
  );
const mandantRows = (ms: Mandant[]) => table(["ID", "NAME", "BSNR", "SMC-B ICCSN"], ms.map((m) => [m.mandantId, m.name, m.bsnr || "-", m.smcbIccsn || "-"]));

function unitDetail(u: Unit): string {
  const lic = u.licence.source === "file" ? `${u.licence.ktPerComputeUnit} KTs per compute unit, features ${u.licence.features.join(", ") || "-"} (licence ${u.licence.licenceId} issued ${u.licence.issuedAt}, key ${u.licence.keyId})` : `${u.licence.ktPerComputeUnit} KTs per compute unit (profile base licence)`;
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

function need(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`missing ${flag}`);
  return v;
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + "\n"), err: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<number> {
  try {
    const { values: o, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o", default: "table" },
        url: { type: "string" },
        as: { type: "string" },
        user: { type: "string" },
        password: { type: "string" },
        serial: { type: "string" },
        profile: { type: "string" },
        firmware: { type: "string" },
        produced: { type: "string" },
        reason: { type: "string" },
        id: { type: "string" },
        name: { type: "string" },
        bsnr: { type: "string" },
        iccsn: { type: "string" },
        role: { type: "string" },
        "kt-per-compute-unit": { type: "string" },
        feature: { type: "string", multiple: true },
        key: { type: "string" },
        out: { type: "string" },
        within: { type: "string" },
        "ct-id": { type: "string" },
        mac: { type: "string" },
        address: { type: "string" },
        vendor: { type: "string" },
        model: { type: "string" },
        unit: { type: "string" },
        cert: { type: "string" },
        mandant: { type: "string" },
        "client-system": { type: "string" },
        workplace: { type: "string" },
        kind: { type: "string" },
        count: { type: "string" },
        prefix: { type: "string" },
        hold: { type: "string" },
        pin: { type: "string" },
        kvnr: { type: "string" },
        pruefkarte: { type: "string" },
        "online-check": { type: "boolean" },
        receipt: { type: "boolean" },
        outcome: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        limit: { type: "string" },
        totp: { type: "string" },
        "new-password": { type: "string" },
        type: { type: "string" },
        slot: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    const [group, verb, arg1, arg2] = positionals;
    if (o.help || !group) {
      out(USAGE);
      return o.help ? 0 : 2;
    }
    if (o.output !== "table" && o.output !== "json" && !(o.output === "xml" && group === "vsd" && verb === "read")) throw new UsageError(`-o must be table or json (xml for vsd read), not ${o.output}`);
    const json = o.output === "json";
    const url = (o.url ?? process.env["TIGW_URL"] ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    const creds = new Credentials();
    const show = (data: unknown, human: () => string) => out(json ? JSON.stringify(data, null, 2) : human());

    // Commands that need no server or no token.
    if (group === "login") {
      const user = need(o.user, "--user");
      const password = o.password ?? process.env["TIGW_PASSWORD"];
      if (!password) throw new UsageError("missing --password (or TIGW_PASSWORD)");
      const totp = o.totp ?? process.env["TIGW_TOTP"];
      const r = await new Api(url).post<{ token: string; expiresAt: string; role: string }>("/api/v1/auth/login", { username: user, password, ...(totp ? { totp } : {}) });
      creds.save(url, user, { token: r.token, expiresAt: r.expiresAt, role: r.role });
      show({ username: user, role: r.role, expiresAt: r.expiresAt }, () => `logged in to ${url} as ${user} (${r.role}); token valid until ${r.expiresAt}`);
      return 0;
    }
    if (group === "logout") {
      const token = creds.get(url, o.as)?.token;
      // Ends the token at the gateway as well; an expired token or an unreachable gateway only forgets it here.
      if (token) await new Api(url, token).post("/api/v1/auth/logout", {}).catch(() => undefined);
      const who = creds.forget(url, o.as);
      out(who ? `logged out ${who}` : "not logged in");
      return 0;
    }
    if (group === "licence" && verb === "issue") {
      const n = Number(need(o["kt-per-compute-unit"], "--kt-per-compute-unit"));
      const key = createPrivateKey(readFileSync(need(o.key, "--key")));
      const file = issueLicence(key, { serial: need(o.serial, "--serial"), ktPerComputeUnit: n, features: o.feature ?? [] });
      writeFileSync(need(o.out, "--out"), JSON.stringify(file, null, 2) + "\n");
      show(file, () => `licence ${file.licence.licenceId} for ${file.licence.serial}: ${n} KTs per compute unit${file.licence.features.length ? `, ${file.licence.features.join(", ")}` : ""}; signed with key ${file.signature.keyId}; written to ${o.out}`);
      return 0;
    }

    const stored = creds.get(url, o.as);
    if (!stored) throw new ApiError(401, "UNAUTHENTICATED", `not logged in to ${url}: run tigw login --user U --password P`);
    const api = new Api(url, stored.token);
    const unitPath = (u: string | undefined) => `/api/v1/units/${encodeURIComponent(need(u, "UNIT"))}`;

    if (group === "passwd") {
      const r = await api.post<{ token: string; expiresAt: string; role: string }>("/api/v1/auth/password", { currentPassword: need(o.password, "--password"), newPassword: need(o["new-password"], "--new-password") });
      creds.save(url, stored.user, { token: r.token, expiresAt: r.expiresAt, role: r.role });
      show({ username: stored.user }, () => `password of ${stored.user} changed; other sessions have ended`);
      return 0;
    }
    if (group === "totp") {
      if (verb === "enroll") {
        const r = await api.post<{ secret: string; otpauthUri: string }>("/api/v1/auth/totp", {});
        show(r, () => `add this to an authenticator app, then run tigw totp confirm CODE:\n  secret ${r.secret}\n  ${r.otpauthUri}`);
        return 0;
      }
      if (verb === "confirm" || verb === "disable") {
        const r = await api.post<{ totpEnabled: boolean }>(`/api/v1/auth/totp/${verb}`, { code: need(arg1, "CODE") });
        show(r, () => (r.totpEnabled ? "TOTP on: tigw login now needs --totp CODE" : "TOTP off"));
        return 0;
      }
      throw new UsageError("tigw totp enroll | confirm CODE | disable CODE");
    }

    if (group === "infomodell") {
      if (verb === "show") {
        const i = await api.get<Infomodell>(`${unitPath(arg1)}/infomodell`);
        show(i, () => infomodellText(i));
        return 0;
      }
      const i = await api.post<Infomodell>(`${unitPath(verb)}/infomodell`, {
        action: need(arg1, "ACTION"),
        mandantId: o.mandant,
        clientSystemId: o["client-system"],
        workplaceId: o.workplace,
        ctId: o["ct-id"],
        kind: o.kind,
        iccsn: o.iccsn,
      });
      show(i, () => infomodellText(i));
      return 0;
    }

    switch (`${group} ${verb ?? ""}`.trim()) {
      case "whoami": {
        const me = await api.get<{ username: string; role: string; expiresAt: string }>("/api/v1/auth/me");
        show(me, () => `${me.username} (${me.role}) at ${url}; token valid until ${me.expiresAt}`);
        return 0;
      }
      case "fleet": {
        const f = await api.get<{ totals: { units: number; byState: Record<string, number>; ktsUsed: number; ktsLimit: number }; units: Unit[] }>("/api/v1/fleet");
        const states = Object.entries(f.totals.byState).map(([s, n]) => `${n} ${s}`).join(", ");
        show(f, () => `${f.totals.units} units (${states || "none"}); KT slots ${f.totals.ktsUsed}/${f.totals.ktsLimit}\n\n${unitRows(f.units)}`);
        return 0;
      }
      case "unit create": {
        const u = await api.post<Unit>("/api/v1/units", { serial: need(o.serial, "--serial"), profile: need(o.profile, "--profile"), firmware: o.firmware, producedOn: o.produced });
        show(u, () => `created unit ${u.serial} (${u.unitId})\n\n${unitDetail(u)}`);
        return 0;
      }
      case "unit list": {
        const r = await api.get<{ units: Unit[] }>("/api/v1/units");
        show(r, () => (r.units.length ? unitRows(r.units) : "no units yet: tigw unit create --serial S --profile rz"));
        return 0;
      }
      case "unit show": {
        const u = await api.get<Unit>(unitPath(arg1));
        show(u, () => unitDetail(u));
        return 0;
      }
      case "unit activate":
      case "unit block":
      case "unit unblock":
      case "unit decommission": {
        const u = await api.post<Unit>(`${unitPath(arg1)}/state`, { action: verb, reason: o.reason });
        show(u, () => `unit ${u.serial} is ${u.state}`);
        return 0;
      }
      case "mandant add": {
        const m = await api.post<Mandant>(`${unitPath(arg1)}/mandanten`, { mandantId: need(o.id, "--id"), name: need(o.name, "--name"), bsnr: o.bsnr, smcbIccsn: o.iccsn });
        show(m, () => `added Mandant ${m.mandantId} (${m.name}) to ${arg1}`);
        return 0;
      }
      case "mandant list": {
        const r = await api.get<{ mandanten: Mandant[] }>(`${unitPath(arg1)}/mandanten`);
        show(r, () => (r.mandanten.length ? mandantRows(r.mandanten) : "no Mandanten on this unit"));
        return 0;
      }
      case "licence import": {
        const text = readFileSync(need(arg2, "FILE"), "utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError(0, "LICENCE_INVALID", `${arg2} is not a licence file (not JSON)`);
        }
        const u = await api.post<Unit>(`${unitPath(arg1)}/licence`, body);
        show(u, () => `licence imported: ${u.serial} now has ${u.licence.ktPerComputeUnit} KTs per compute unit (${u.computeUnits.length * u.licence.ktPerComputeUnit} in total)${u.licence.features.length ? `, features ${u.licence.features.join(", ")}` : ""}`);
        return 0;
      }
      case "unit check": {
        const r = await api.get<{ status: string; checks: { check: string; status: string; detail: string }[] }>(`${unitPath(arg1)}/check`);
        show(r, () => `${table(["CHECK", "STATUS", "DETAIL"], r.checks.map((c) => [c.check, c.status, c.detail]))}\n\noverall: ${r.status}`);
        return r.status === "error" ? 1 : 0;
      }
      case "unit certs": {
        const m = await api.get<SecurityModule>(`${unitPath(arg1)}/certs`);
        show(m, () => securityModuleText(m));
        return 0;
      }
      case "unit lzv": {
        const m = await api.post<SecurityModule>(`${unitPath(arg1)}/lzv`, {});
        show(m, () => `LZV done: ${m.serial}'s certificates now valid until ${day(m.identities[0]!.certificate.notAfter)} (same keys, ICCSN ${m.iccsn})\n\n${securityModuleText(m)}`);
        return 0;
      }
      case "unit revoke": {
        const m = await api.post<SecurityModule>(`${unitPath(arg1)}/revoke`, { reason: o.reason });
        show(m, () => `revoked every gSMC-K certificate of ${m.serial}; TI access ${m.tiAccess ? "still on" : "off"}`);
        return 0;
      }
      case "fleet check": {
        type Check = { unit: string; status: string; checks: { check: string; status: string; detail: string }[] };
        const { units } = await api.get<{ units: Unit[] }>("/api/v1/units");
        const results = await Promise.all(units.map((u) => api.get<Check>(`${unitPath(u.serial)}/check`)));
        const rank: Record<string, number> = { error: 0, warning: 1, ok: 2 };
        results.sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || a.unit.localeCompare(b.unit));
        const notOk = (c: Check) => c.checks.filter((x) => x.status !== "ok").map((x) => `${x.check}: ${x.detail}`).join("; ");
        show({ units: results }, () => table(["UNIT", "STATUS", "NOT OK"], results.map((r) => [r.unit, r.status, notOk(r) || "-"])));
        return results.some((r) => r.status === "error") ? 1 : 0;
      }
      case "fleet expiries": {
        const r = await api.get<{ expiries: Expiry[]; now: string }>(`/api/v1/fleet/expiries${o.within ? `?within=${encodeURIComponent(o.within)}` : ""}`);
        show(r, () =>
          r.expiries.length
            ? `as of ${day(r.now)}\n\n` +
              table(
                ["SERIAL", "IDENTITY", "EXPIRES", "DAYS LEFT", "EXCHANGE DUE", "LZV", "TI ACCESS"],
                r.expiries.map((e) => [e.serial, e.identity, day(e.notAfter), e.expired ? `${e.daysToExpiry} (expired)` : e.daysToExpiry, e.exchangeDue ? "YES" : "no", e.lzvApplies ? "applies" : `no (${e.lzvReason})`, e.tiAccess ? "yes" : "NO"]),
              )
            : `no unit's gSMC-K expires${o.within ? ` within ${o.within}` : ""}`,
        );
        return 0;
      }
      case "clock show": {
        const c = await api.get<{ now: string; simulated: boolean }>("/api/v1/clock");
        show(c, () => `${c.now} (${c.simulated ? "simulated clock" : "system clock"})`);
        return 0;
      }
      case "clock advance": {
        const c = await api.post<{ now: string }>("/api/v1/clock/advance", { duration: need(arg1, "DURATION (e.g. 30d)") });
        show(c, () => `simulated clock now ${c.now}; expiry checks ran`);
        return 0;
      }
      case "kt add": {
        const k = await api.post<Terminal>("/api/v1/terminals", { ctId: need(o["ct-id"], "--ct-id"), mac: need(o.mac, "--mac"), address: o.address, vendor: o.vendor, model: o.model, firmware: o.firmware });
        show(k, () => `registered terminal ${k.ctId} (${k.mac}), state ${k.correlation}`);
        return 0;
      }
      case "kt pair": {
        const r = await api.post<{ terminal: Terminal; pairingSecret: string }>(`/api/v1/terminals/${encodeURIComponent(need(arg1, "KT"))}/pair`, { unit: need(o.unit, "--unit"), certSerial: need(o.cert, "--cert") });
        show(r, () => `paired ${r.terminal.ctId} with unit ${o.unit} (compute unit ${r.terminal.computeUnit}); pairing secret for the terminal (shown once): ${r.pairingSecret}`);
        return 0;
      }
      case "kt unpair": {
        const k = await api.post<Terminal>(`/api/v1/terminals/${encodeURIComponent(need(arg1, "KT"))}/unpair`, { reason: o.reason });
        show(k, () => `unpaired ${k.ctId}: it can no longer connect; its slot is free`);
        return 0;
      }
      case "kt list": {
        const q = new URLSearchParams({ ...(o.unit ? { unit: o.unit } : {}), ...(o.mandant ? { mandant: o.mandant } : {}) }).toString();
        const r = await api.get<{ terminals: Terminal[] }>(`/api/v1/terminals${q ? `?${q}` : ""}`);
        show(r, () => (r.terminals.length ? terminalRows(r.terminals) : "no terminals"));
        return 0;
      }
      case "kt show": {
        const k = await api.get<Terminal>(`/api/v1/terminals/${encodeURIComponent(need(arg1, "KT"))}`);
        show(k, () => [fields([["Terminal", k.ctId], ["MAC", k.mac], ["Device", `${k.vendor} ${k.model} ${k.firmware}`.trim()], ["Unit", k.unitId || "-"], ["State", `${k.correlation}${k.connected ? ", connected" : ""}`], ["gSMC-KT", k.certSerial || "-"], ["Refused connects", k.refusedConnects]]), ...(k.cards.length ? ["", cardRows(k.cards)] : [])].join("\n"));
        return 0;
      }
      case "card pin": {
        const handle = need(arg2, "HANDLE");
        if (arg1 === "verify") {
          const r = await api.post<{ result: string; leftTries: number }>(`/api/v1/cards/${encodeURIComponent(handle)}/verify-pin`, { pin: need(o.pin, "--pin") });
          show(r, () => `PIN ${r.result}${r.result === "REJECTED" ? ` (${r.leftTries} tries left)` : ""}`);
          return r.result === "OK" ? 0 : 1;
        }
        const r = await api.get<{ status: string; leftTries: number }>(`/api/v1/cards/${encodeURIComponent(handle)}/pin-status`);
        show(r, () => `PIN ${r.status}${r.status === "VERIFIABLE" ? ` (${r.leftTries} tries left)` : ""}`);
        return 0;
      }
      case "card list": {
        const r = await api.get<{ cards: Card[] }>(`${unitPath(arg1)}/cards`);
        show(r, () => (r.cards.length ? cardRows(r.cards) : "no cards inserted"));
        return 0;
      }
      case "sim kt": {
        const count = Number(need(o.count, "--count"));
        if (!Number.isInteger(count) || count < 1 || count > 2000) throw new UsageError("--count must be 1-2000");
        const { result, terminals } = await simulateTerminals(api, { unit: need(o.unit, "--unit"), mandant: o.mandant, count, prefix: o.prefix ?? `SIM-${Date.now().toString(36).toUpperCase()}-` });
        const sorted = [...result.pairingMs].sort((a, b) => a - b);
        const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!.toFixed(0) : "-");
        show(result, () => `${result.admitted.length} terminals paired and connected, ${result.refused.length} refused${result.refused.length ? ` (${[...new Set(result.refused.map((r) => r.code))].join(", ")})` : ""}; pairing p50 ${pct(50)} ms, p95 ${pct(95)} ms`);
        if (o.hold) {
          const until = Date.now() + parseDurationMs(o.hold);
          while (Date.now() < until) {
            await Promise.all(terminals.map((t) => t.heartbeat()));
            await new Promise((r) => setTimeout(r, 5_000));
          }
        }
        return 0;
      }
      case "sim card": {
        const kt = need(arg2, "KT");
        if (arg1 === "insert") {
          const type = need(o.type, "--type");
          // SMC-B and HBA come from the test PKI (key and certificate in hsm), so card-to-card works.
          const pki = type === "SMC-B" || type === "HBA" ? await api.post<{ iccsn: string; certSerial: string }>("/api/v1/sim/cards", { cardType: type === "SMC-B" ? "SMCB" : "HBA", keyType: "ecc", iccsn: o.iccsn }) : undefined;
          const iccsn = pki?.iccsn ?? o.iccsn ?? `80276${String(Date.now()).slice(-15).padStart(15, "0")}`;
          const c = await api.post<Card>(`/api/v1/terminals/${encodeURIComponent(kt)}/cards`, { slot: Number(o.slot ?? 1), cardType: type, iccsn, certSerial: pki?.certSerial, pin: o.pin });
          show(c, () => `inserted ${c.cardType} ${c.iccsn} into ${kt} slot ${c.slot}; card handle ${c.cardHandle}`);
          return 0;
        }
        if (arg1 === "remove") {
          const r = await api.post<{ removed: boolean }>(`/api/v1/terminals/${encodeURIComponent(kt)}/cards/${Number(need(o.slot, "--slot"))}/remove`, {});
          show(r, () => (r.removed ? `removed the card from ${kt} slot ${o.slot}` : `slot ${o.slot} of ${kt} was empty`));
          return 0;
        }
        throw new UsageError("tigw sim card insert|remove KT ...");
      }
      case "vsd read": {
        const unit = need(o.unit, "--unit");
        const mandantId = need(o.mandant, "--mandant");
        const ctId = need(o["ct-id"], "--ct-id");
        const slot = Number(need(o.slot, "--slot"));
        const [{ cards }, info] = await Promise.all([api.get<{ cards: Card[] }>(`${unitPath(unit)}/cards`), api.get<Infomodell>(`${unitPath(unit)}/infomodell`)]);
        const egk = cards.find((c) => c.ctId === ctId && c.slot === slot);
        if (!egk) throw new ApiError(0, "4008", `no card in ${ctId} slot ${slot}`);
        const mine = info.mandanten.find((m) => m.mandantId === mandantId);
        const smcb = cards.find((c) => (c.cardType === "SMC-B" || c.cardType === "HBA") && (mine?.smbs.includes(c.iccsn) ?? false)) ?? cards.find((c) => c.cardType === "SMC-B");
        if (!smcb) throw new ApiError(0, "4009", "no SMC-B of this Mandant is inserted");
        const request = {
          unit,
          mandantId,
          clientSystemId: o["client-system"] ?? mine?.clientSystems[0] ?? "",
          workplaceId: need(o.workplace, "--workplace"),
          ehcHandle: egk.cardHandle,
          hpcHandle: smcb.cardHandle,
          performOnlineCheck: o["online-check"] === true,
          readOnlineReceipt: o.receipt === true,
        };
        if (o.output === "xml") {
          const x = await api.postXml("/api/v1/vsd/read", request);
          out(x.text);
          return x.ok ? 0 : 1;
        }
        const r = await api.post<VsdAnswer>("/api/v1/vsd/read", request);
        show(r, () => vsdText(r));
        return 0;
      }
      case "vsd log": {
        const query = new URLSearchParams();
        for (const [k, v] of [["mandant", o.mandant], ["outcome", o.outcome], ["from", timeArg(o.from)], ["to", timeArg(o.to)], ["limit", o.limit]] as const) if (v) query.set(k, v);
        const r = await api.get<{ entries: ProtocolEntry[] }>(`${unitPath(arg1)}/vsd-log${query.size ? `?${query}` : ""}`);
        show(r, () =>
          r.entries.length
            ? table(["TIME", "MANDANT", "WORKPLACE", "CT-ID", "KVNR", "OCSP", "OUTCOME", "CODE", "RESULT", "MS"], r.entries.map((e) => [e.at, e.mandantId, e.workplaceId, e.ctId || "-", e.kvnr || "-", e.ocsp || "-", e.outcome, e.code || "-", e.result || "-", e.steps.reduce((a, s) => a + s.ms, 0)]))
            : "no reads protocolled",
        );
        return 0;
      }
      case "sim egk": {
        if (arg1 !== "insert") throw new UsageError("tigw sim egk insert KT --slot N (--kvnr K | --pruefkarte N)");
        const kt = need(arg2, "KT");
        const e = await api.post<{ iccsn: string; certSerial: string; kvnr: string; name: string }>("/api/v1/sim/egk", { kvnr: o.kvnr, pruefkarte: o.pruefkarte ? Number(o.pruefkarte) : 0 });
        const c = await api.post<Card>(`/api/v1/terminals/${encodeURIComponent(kt)}/cards`, { slot: Number(o.slot ?? 1), cardType: o.pruefkarte ? "PRUEFKARTE_EGK" : "EGK", iccsn: e.iccsn, certSerial: e.certSerial });
        show({ ...c, kvnr: e.kvnr }, () => `inserted the ${o.pruefkarte ? "Prüfkarte eGK" : "eGK"} of ${e.name} (KVNR ${e.kvnr}) into ${kt} slot ${c.slot}; card handle ${c.cardHandle}`);
        return 0;
      }
      case "sim fachdienst": {
        await api.post("/api/v1/sim/fachdienst", { ik: need(arg1, "IK"), behaviour: need(arg2, "BEHAVIOUR") });
        show({ ik: arg1, behaviour: arg2 }, () => `Fachdienst of IK ${arg1}: ${arg2}`);
        return 0;
      }
      case "profile list": {
        const r = await api.get<{ profiles: { name: string; computeUnits: number; ktPerComputeUnit: number; recommendedKts: number; maxMandanten: number; description: string }[] }>("/api/v1/profiles");
        show(r, () => table(["NAME", "COMPUTE UNITS", "KTS PER CU", "RECOMMENDED", "MANDANTEN", "DESCRIPTION"], r.profiles.map((p) => [p.name, p.computeUnits, p.ktPerComputeUnit, p.recommendedKts, p.maxMandanten, p.description])));
        return 0;
      }
      case "user list": {
        const r = await api.get<{ users: { username: string; role: string; createdAt: string; totpEnabled: boolean }[] }>("/api/v1/users");
        show(r, () => table(["USER", "ROLE", "TOTP", "CREATED"], r.users.map((u) => [u.username, u.role, u.totpEnabled ? "yes" : "no", u.createdAt])));
        return 0;
      }
      case "user remove": {
        const r = await api.request<{ username: string }>("DELETE", `/api/v1/users/${encodeURIComponent(need(arg1, "USER"))}`);
        show(r, () => `removed user ${r.username}; its tokens no longer work`);
        return 0;
      }
      case "user role": {
        const r = await api.post<{ username: string; role: string }>(`/api/v1/users/${encodeURIComponent(need(arg1, "USER"))}/role`, { role: need(o.role, "--role") });
        show(r, () => `${r.username} is now ${r.role}; it logs in again`);
        return 0;
      }
      case "user reset-password": {
        const r = await api.post<{ username: string }>(`/api/v1/users/${encodeURIComponent(need(arg1, "USER"))}/password`, { password: need(o.password, "--password") });
        show(r, () => `password of ${r.username} reset; its tokens no longer work`);
        return 0;
      }
      case "user reset-totp": {
        const r = await api.post<{ username: string }>(`/api/v1/users/${encodeURIComponent(need(arg1, "USER"))}/totp/reset`, {});
        show(r, () => `TOTP of ${r.username} turned off; it may enrol again`);
        return 0;
      }
      case "user add": {
        const u = await api.post<{ username: string; role: string }>("/api/v1/users", { username: need(o.user, "--user"), role: need(o.role, "--role"), password: need(o.password, "--password") });
        show(u, () => `created user ${u.username} (${u.role})`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command: tigw ${positionals.join(" ")}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith?.("ERR_PARSE_ARGS")) {
      err(`usage error: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof ApiError) {
      const facts = Object.entries(e.details).map(([k, v]) => `${k}=${v}`).join(", ");
      err(`error ${e.code}: ${e.message}${facts ? ` (${facts})` : ""}`);
      if (e.code === "UNAUTHENTICATED") err("hint: tigw login --user U --password P");
      return 1;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
