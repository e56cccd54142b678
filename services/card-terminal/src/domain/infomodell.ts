import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * The Infomodell of a unit (gemSpec_Kon 4.1.1): Mandanten with their client systems
 * (Clientsysteme), workplaces (Arbeitsplätze), terminals and managed SM-Bs; per workplace its
 * client systems and its local and remote terminals. The access check TUC_KON_000 reads it.
 */
export interface MandantInfo {
  clientSystems: string[];
  workplaces: string[];
  terminals: string[];
  /** ICCSNs of the SM-Bs (SMC-B) this Mandant manages. */
  smbs: string[];
}

export interface WorkplaceInfo {
  clientSystems: string[];
  local: string[];
  remote: string[];
}

/** How client systems authenticate at the unit's SOAP interface: not at all, HTTP Basic, or mutual TLS. */
export type ClientAuthMode = "none" | "basic" | "mtls";
export const CLIENT_AUTH_MODES: readonly ClientAuthMode[] = ["none", "basic", "mtls"];

/** What a client system authenticates with: a password (its scrypt hash in the vault) and/or a TLS client certificate. */
export interface ClientSystemCredential {
  /** Vault reference of the password's hash; never the password or the hash itself. */
  passwordRef?: string;
  /** SHA-256 fingerprint of the registered client certificate (as node's X509Certificate prints it). */
  certFingerprint?: string;
  certSubject?: string;
}

export interface InfomodellState {
  unitId: string;
  mandanten: Record<string, MandantInfo>;
  clientSystems: string[];
  workplaces: Record<string, WorkplaceInfo>;
  clientAuth: ClientAuthMode;
  credentials: Record<string, ClientSystemCredential>;
}

export type InfomodellCommand =
  | { type: "RegisterMandant"; unitId: string; mandantId: string; at: string }
  | { type: "AssignClientSystem"; mandantId: string; clientSystemId: string; at: string }
  | { type: "AssignWorkplace"; mandantId: string; workplaceId: string; clientSystemIds: string[]; at: string }
  | { type: "AssignTerminalToMandant"; mandantId: string; ctId: string; at: string }
  | { type: "SetWorkplaceTerminal"; workplaceId: string; ctId: string; kind: "local" | "remote"; at: string }
  | { type: "ManageSmb"; mandantId: string; iccsn: string; at: string }
  | { type: "SetClientAuth"; mode: string; at: string }
  | { type: "SetClientSystemPassword"; clientSystemId: string; passwordRef: string; at: string }
  | { type: "RegisterClientSystemCertificate"; clientSystemId: string; fingerprint: string; subject: string; at: string };

export type InfomodellEvent =
  | { type: "InfomodellMandantRegistered"; data: { unitId: string; mandantId: string; at: string } }
  | { type: "ClientSystemAssigned"; data: { mandantId: string; clientSystemId: string; at: string } }
  | { type: "WorkplaceAssigned"; data: { mandantId: string; workplaceId: string; clientSystemIds: string[]; at: string } }
  | { type: "TerminalAssignedToMandant"; data: { mandantId: string; ctId: string; at: string } }
  | { type: "WorkplaceTerminalSet"; data: { workplaceId: string; ctId: string; kind: "local" | "remote"; at: string } }
  | { type: "SmbManaged"; data: { mandantId: string; iccsn: string; at: string } }
  | { type: "ClientAuthSet"; data: { mode: ClientAuthMode; at: string } }
  | { type: "ClientSystemPasswordSet"; data: { clientSystemId: string; passwordRef: string; at: string } }
  | { type: "ClientSystemCertificateRegistered"; data: { clientSystemId: string; fingerprint: string; subject: string; at: string } };

export const initialInfomodell = (): InfomodellState => ({ unitId: "", mandanten: {}, clientSystems: [], workplaces: {}, clientAuth: "none", credentials: {} });

/** Context ids (ConnectorContext.xsd): at most 64 characters. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const checkId = (field: string, value: string) => {
  if (!ID.test(value)) throw new ValidationError("INVALID_ID", field, `${field} "${value}" is not 1-64 letters, digits, '_', '.', ':' or '-'`);
};

function mandant(s: InfomodellState, mandantId: string): MandantInfo {
  const m = s.mandanten[mandantId];
  if (!m) throw new DomainError("4004", `Mandant ${mandantId} is not in the Infomodell of this unit`, { field: "mandantId", value: mandantId });
  return m;
}

function decide(c: InfomodellCommand, s: InfomodellState): InfomodellEvent[] {
  switch (c.type) {
    case "RegisterMandant":
      checkId("mandantId", c.mandantId);
      return s.mandanten[c.mandantId] ? [] : [{ type: "InfomodellMandantRegistered", data: { unitId: c.unitId, mandantId: c.mandantId, at: c.at } }];
    case "AssignClientSystem":
      checkId("clientSystemId", c.clientSystemId);
      return mandant(s, c.mandantId).clientSystems.includes(c.clientSystemId)
        ? []
        : [{ type: "ClientSystemAssigned", data: { mandantId: c.mandantId, clientSystemId: c.clientSystemId, at: c.at } }];
    case "AssignWorkplace": {
      checkId("workplaceId", c.workplaceId);
      const m = mandant(s, c.mandantId);
      for (const cs of c.clientSystemIds)
        if (!m.clientSystems.includes(cs))
          throw new DomainError("4010", `client system ${cs} is not assigned to Mandant ${c.mandantId}`, { field: "clientSystemIds", value: cs });
      return [{ type: "WorkplaceAssigned", data: { mandantId: c.mandantId, workplaceId: c.workplaceId, clientSystemIds: c.clientSystemIds, at: c.at } }];
    }
    case "AssignTerminalToMandant":
      return mandant(s, c.mandantId).terminals.includes(c.ctId)
        ? []
        : [{ type: "TerminalAssignedToMandant", data: { mandantId: c.mandantId, ctId: c.ctId, at: c.at } }];
    case "SetWorkplaceTerminal":
      if (!s.workplaces[c.workplaceId])
        throw new DomainError("4006", `workplace ${c.workplaceId} is not in the Infomodell`, { field: "workplaceId", value: c.workplaceId });
      if (c.kind !== "local" && c.kind !== "remote") throw new ValidationError("INVALID_REQUEST", "kind", "kind is local or remote");
      return [{ type: "WorkplaceTerminalSet", data: { workplaceId: c.workplaceId, ctId: c.ctId, kind: c.kind, at: c.at } }];
    case "ManageSmb":
      if (!/^\d{20}$/.test(c.iccsn)) throw new ValidationError("INVALID_ICCSN", "iccsn", "an ICCSN has 20 digits");
      return mandant(s, c.mandantId).smbs.includes(c.iccsn) ? [] : [{ type: "SmbManaged", data: { mandantId: c.mandantId, iccsn: c.iccsn, at: c.at } }];
    case "SetClientAuth":
      if (!CLIENT_AUTH_MODES.includes(c.mode as ClientAuthMode))
        throw new ValidationError("INVALID_CLIENT_AUTH_MODE", "mode", `client authentication is none, basic or mtls, not "${c.mode.slice(0, 20)}"`);
      return s.clientAuth === c.mode ? [] : [{ type: "ClientAuthSet", data: { mode: c.mode as ClientAuthMode, at: c.at } }];
    case "SetClientSystemPassword":
    case "RegisterClientSystemCertificate":
      if (!s.clientSystems.includes(c.clientSystemId))
        throw new DomainError("4005", `client system ${c.clientSystemId} is not in the Infomodell (assign it to a Mandant first)`, {
          field: "clientSystemId",
          value: c.clientSystemId,
        });
      return c.type === "SetClientSystemPassword"
        ? [{ type: "ClientSystemPasswordSet", data: { clientSystemId: c.clientSystemId, passwordRef: c.passwordRef, at: c.at } }]
        : [{ type: "ClientSystemCertificateRegistered", data: { clientSystemId: c.clientSystemId, fingerprint: c.fingerprint, subject: c.subject, at: c.at } }];
  }
}

const add = (list: string[], x: string) => (list.includes(x) ? list : [...list, x]);

function evolve(s: InfomodellState, e: InfomodellEvent): InfomodellState {
  switch (e.type) {
    case "InfomodellMandantRegistered":
      return { ...s, unitId: e.data.unitId, mandanten: { ...s.mandanten, [e.data.mandantId]: { clientSystems: [], workplaces: [], terminals: [], smbs: [] } } };
    case "ClientSystemAssigned": {
      const m = s.mandanten[e.data.mandantId]!;
      return {
        ...s,
        clientSystems: add(s.clientSystems, e.data.clientSystemId),
        mandanten: { ...s.mandanten, [e.data.mandantId]: { ...m, clientSystems: add(m.clientSystems, e.data.clientSystemId) } },
      };
    }
    case "WorkplaceAssigned": {
      const m = s.mandanten[e.data.mandantId]!;
      const wp = s.workplaces[e.data.workplaceId] ?? { clientSystems: [], local: [], remote: [] };
      return {
        ...s,
        mandanten: { ...s.mandanten, [e.data.mandantId]: { ...m, workplaces: add(m.workplaces, e.data.workplaceId) } },
        workplaces: { ...s.workplaces, [e.data.workplaceId]: { ...wp, clientSystems: e.data.clientSystemIds.reduce(add, wp.clientSystems) } },
      };
    }
    case "TerminalAssignedToMandant": {
      const m = s.mandanten[e.data.mandantId]!;
      return { ...s, mandanten: { ...s.mandanten, [e.data.mandantId]: { ...m, terminals: add(m.terminals, e.data.ctId) } } };
    }
    case "WorkplaceTerminalSet": {
      const wp = s.workplaces[e.data.workplaceId]!;
      return { ...s, workplaces: { ...s.workplaces, [e.data.workplaceId]: { ...wp, [e.data.kind]: add(wp[e.data.kind], e.data.ctId) } } };
    }
    case "SmbManaged": {
      const m = s.mandanten[e.data.mandantId]!;
      return { ...s, mandanten: { ...s.mandanten, [e.data.mandantId]: { ...m, smbs: add(m.smbs, e.data.iccsn) } } };
    }
    case "ClientAuthSet":
      return { ...s, clientAuth: e.data.mode };
    case "ClientSystemPasswordSet": {
      const had = s.credentials?.[e.data.clientSystemId] ?? {};
      return { ...s, credentials: { ...s.credentials, [e.data.clientSystemId]: { ...had, passwordRef: e.data.passwordRef } } };
    }
    case "ClientSystemCertificateRegistered": {
      const had = s.credentials?.[e.data.clientSystemId] ?? {};
      return {
        ...s,
        credentials: { ...s.credentials, [e.data.clientSystemId]: { ...had, certFingerprint: e.data.fingerprint, certSubject: e.data.subject } },
      };
    }
  }
}

export const infomodellDecider: Decider<InfomodellState, InfomodellCommand, InfomodellEvent> = { decide, evolve, initialState: initialInfomodell };

/** The call context of a client system (ConnectorContext.xsd). */
export interface CallContext {
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
  userId?: string;
}

/** What the call wants to reach: a terminal, and maybe a card in it. */
export interface AccessTarget {
  ctId?: string;
  /** The card by handle; `card: null` = a handle that names no inserted card. */
  cardHandle?: string;
  card?: { cardType: string; iccsn: string; ctId: string } | null;
  /** Whether the call needs a workplace (VSDM always does). */
  workplaceRequired?: boolean;
  /** The client system authenticated itself (TLS client certificate or basic auth) where required. */
  clientAuthenticated?: boolean;
  /** Workplace currently holding an eGK session on this card, if any. */
  egkSessionWorkplace?: string;
  /** Terminals known to the unit (for 4007). */
  knownTerminals: string[];
}

const fail = (code: string, message: string, details: Record<string, string> = {}) => new DomainError(code, message, details);

/**
 * TUC_KON_000 "Prüfe Zugriffsberechtigung": refuses with the first violated rule's gematik code
 * (4021, 4004-4017, 4019, 4204) or returns. Pure: the caller supplies the Infomodell and the
 * transient facts (inserted card, eGK session).
 */
export function checkAccess(info: InfomodellState, ctx: CallContext, t: AccessTarget): void {
  if (!ctx.mandantId) throw fail("4021", "MandantId is missing from the call context", { field: "mandantId" });
  if (!ctx.clientSystemId) throw fail("4021", "ClientSystemId is missing from the call context", { field: "clientSystemId" });
  if (t.workplaceRequired && !ctx.workplaceId) throw fail("4021", "WorkplaceId is missing from the call context", { field: "workplaceId" });
  const m = info.mandanten[ctx.mandantId];
  if (!m) throw fail("4004", `unknown MandantId ${ctx.mandantId}`, { field: "mandantId", value: ctx.mandantId });
  if (!info.clientSystems.includes(ctx.clientSystemId))
    throw fail("4005", `unknown ClientSystemId ${ctx.clientSystemId}`, { field: "clientSystemId", value: ctx.clientSystemId });
  const wp = ctx.workplaceId ? info.workplaces[ctx.workplaceId] : undefined;
  if (ctx.workplaceId && !wp) throw fail("4006", `unknown WorkplaceId ${ctx.workplaceId}`, { field: "workplaceId", value: ctx.workplaceId });
  const ctId = t.ctId ?? t.card?.ctId;
  if (ctId && !t.knownTerminals.includes(ctId)) throw fail("4007", `unknown CtId ${ctId}`, { field: "ctId", value: ctId });
  if (t.clientAuthenticated === false) throw fail("4204", `client system ${ctx.clientSystemId} is not authenticated`);
  if (!m.clientSystems.includes(ctx.clientSystemId)) throw fail("4010", `client system ${ctx.clientSystemId} is not assigned to Mandant ${ctx.mandantId}`);
  if (wp && !m.workplaces.includes(ctx.workplaceId)) throw fail("4011", `workplace ${ctx.workplaceId} is not assigned to Mandant ${ctx.mandantId}`);
  if (ctId && !m.terminals.includes(ctId)) throw fail("4012", `terminal ${ctId} is not assigned to Mandant ${ctx.mandantId}`);
  if (wp && !wp.clientSystems.includes(ctx.clientSystemId))
    throw fail("4014", `workplace ${ctx.workplaceId} is not assigned to client system ${ctx.clientSystemId}`);
  if (t.cardHandle !== undefined && !t.card)
    throw fail("4008", `no card with handle ${t.cardHandle} is inserted`, { field: "cardHandle", value: t.cardHandle });
  if (wp && ctId && !wp.local.includes(ctId) && !wp.remote.includes(ctId))
    throw fail("4015", `terminal ${ctId} is neither local nor remote for workplace ${ctx.workplaceId}`);
  if (!t.card) return;
  switch (t.card.cardType) {
    case "SMC-B": {
      const managed = Object.values(info.mandanten).some((x) => x.smbs.includes(t.card!.iccsn));
      if (!managed) throw fail("4009", `SM-B ${t.card.iccsn} is not managed by this unit`);
      if (!m.smbs.includes(t.card.iccsn)) throw fail("4013", `SM-B ${t.card.iccsn} is not assigned to Mandant ${ctx.mandantId}`);
      return;
    }
    case "EGK":
    case "PRUEFKARTE_EGK":
      if (!wp || !wp.local.includes(t.card.ctId))
        throw fail("4016", `access to an eGK needs a terminal local to the workplace; ${t.card.ctId} is not local to ${ctx.workplaceId || "(no workplace)"}`);
      if (t.egkSessionWorkplace && t.egkSessionWorkplace !== ctx.workplaceId)
        throw fail("4017", `the eGK is in a session at workplace ${t.egkSessionWorkplace}`);
      return;
    case "HBA":
      return;
    default:
      throw fail("4019", `no access rule for card type ${t.card.cardType}`);
  }
}
