import { DomainError, ValidationError, type Decider } from "@tigw/platform";
import { APPROVED, checkDate, parseVersion, type CatalogueEntry } from "./catalogue.js";

/**
 * A Release: one update the KSR offers (its UpdateInformation): the firmware version for a
 * product, its priority (FWPriority Normal or Kritisch), the start date from which units install
 * it in their window and the deadline by which it must be installed, release notes, and the
 * SHA-256 of each firmware file. Signed before it is published; one stream per UpdateID.
 */
export const NORMAL = "Normal";
export const CRITICAL = "Kritisch";
export type Priority = typeof NORMAL | typeof CRITICAL;

export interface FileFacts {
  filename: string;
  size: number;
  sha256: string;
}

export interface ReleaseFacts {
  updateId: string;
  product: string;
  fwVersion: string;
  fwPriority: Priority;
  startDate: string;
  deadline: string;
  releaseNotes: string;
  files: FileFacts[];
  creationDate: string;
  signerCertSerial: string;
  /**
   * A Konnektor release of a batch "Konnektor only after all KT updates succeeded": a unit installs
   * it only when none of its terminals has an update due (absent in releases published before).
   */
  afterTerminals?: boolean;
}

export interface ReleaseState extends ReleaseFacts {
  exists: boolean;
  publishedAt: string;
}

export type ReleaseCommand = {
  type: "PublishRelease";
  release: ReleaseFacts;
  /** The catalogue's entry of the version (undefined: not catalogued). */
  entry: CatalogueEntry | undefined;
  at: string;
};

export type ReleaseEvent = { type: "ReleasePublished"; data: ReleaseFacts & { at: string } };

export function checkUpdateId(updateId: string): string {
  // UpdateInformationType: UpdateID matches [a-zA-Z0-9_]*; an empty one names nothing.
  if (!/^[a-zA-Z0-9_]{1,64}$/.test(updateId))
    throw new ValidationError("INVALID_UPDATE_ID", "updateId", `UpdateID "${updateId}" must be 1-64 letters, digits or _`, { value: updateId });
  return updateId;
}

/** Validates what an operator gives; the signer and files come from the application. */
export function checkRelease(r: Pick<ReleaseFacts, "updateId" | "product" | "fwVersion" | "fwPriority" | "startDate" | "deadline" | "releaseNotes">): void {
  checkUpdateId(r.updateId);
  parseVersion(r.fwVersion);
  if (r.fwPriority !== NORMAL && r.fwPriority !== CRITICAL)
    throw new ValidationError("INVALID_PRIORITY", "fwPriority", `FWPriority is ${NORMAL} or ${CRITICAL}, not "${r.fwPriority}"`, { value: r.fwPriority });
  checkDate("startDate", r.startDate);
  checkDate("deadline", r.deadline);
  if (r.deadline < r.startDate)
    throw new ValidationError("DEADLINE_BEFORE_START", "deadline", `the deadline ${r.deadline} lies before the start date ${r.startDate}`);
  // ReleaseNotesType: at most 2048 characters.
  if (r.releaseNotes.length > 2048) throw new ValidationError("INVALID_RELEASE_NOTES", "releaseNotes", "release notes have at most 2048 characters");
}

function decide(c: ReleaseCommand, s: ReleaseState): ReleaseEvent[] {
  const r = c.release;
  checkRelease(r);
  if (s.exists) {
    // Publishing the same release again changes nothing; another release under its UpdateID is refused.
    if (s.fwVersion === r.fwVersion && s.product === r.product) return [];
    throw new DomainError("UPDATE_ID_EXISTS", `UpdateID ${r.updateId} is taken by ${s.product} ${s.fwVersion}`, { field: "updateId", value: r.updateId });
  }
  // Only released, approved software is offered (seed 000): an unknown or no longer approved version is not.
  if (!c.entry)
    throw new DomainError("VERSION_NOT_CATALOGUED", `${r.product} ${r.fwVersion} is not in the firmware catalogue`, { field: "fwVersion", value: r.fwVersion });
  if (c.entry.approval !== APPROVED)
    throw new DomainError("VERSION_NOT_APPROVED", `${r.product} ${r.fwVersion}: ${c.entry.approval} (${c.entry.approvalDate}); it cannot be released`, {
      field: "fwVersion",
      value: r.fwVersion,
    });
  if (c.entry.approvalDate < r.deadline)
    throw new DomainError(
      "APPROVAL_ENDS_BEFORE_DEADLINE",
      `${r.product} ${r.fwVersion} is zugelassen until ${c.entry.approvalDate}, before the deadline ${r.deadline}`,
      { field: "deadline", value: r.deadline },
    );
  if (r.files.length === 0) throw new DomainError("NO_FIRMWARE_FILE", "a release carries at least one firmware file");
  return [{ type: "ReleasePublished", data: { ...r, at: c.at } }];
}

export const initialRelease = (): ReleaseState => ({
  exists: false,
  updateId: "",
  product: "",
  fwVersion: "",
  fwPriority: NORMAL,
  startDate: "",
  deadline: "",
  releaseNotes: "",
  files: [],
  creationDate: "",
  signerCertSerial: "",
  publishedAt: "",
});

function evolve(_s: ReleaseState, e: ReleaseEvent): ReleaseState {
  const { at, ...facts } = e.data;
  return { ...facts, exists: true, publishedAt: at };
}

export const releaseDecider: Decider<ReleaseState, ReleaseCommand, ReleaseEvent> = { initialState: initialRelease, decide, evolve };
