import { ValidationError } from "@tigw/platform";

/** Input rules of the tenancy domain; each refusal names the field in its code and details. */
const RULES = {
  // Manufacturer serial numbers: upper-case letters, digits and dashes, 4 to 32 characters.
  serial: { re: /^[A-Z0-9][A-Z0-9-]{3,31}$/, code: "INVALID_SERIAL", what: "4-32 upper-case letters, digits or dashes" },
  // Product type version, e.g. 5.50.4:2.0.0 (Konnektor:Fachmodule) or older plain 4.10.1.
  firmware: { re: /^\d{1,3}\.\d{1,3}\.\d{1,3}(:\d{1,3}\.\d{1,3}\.\d{1,3})?$/, code: "INVALID_FIRMWARE_VERSION", what: "a version like 5.50.4:2.0.0" },
  producedOn: { re: /^\d{4}-\d{2}-\d{2}$/, code: "INVALID_PRODUCTION_DATE", what: "a date YYYY-MM-DD" },
  mandantId: { re: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, code: "INVALID_MANDANT_ID", what: "1-64 letters, digits, '_', '.' or '-'" },
  // Betriebsstättennummer of the KBV: 9 digits.
  bsnr: { re: /^\d{9}$/, code: "INVALID_BSNR", what: "9 digits" },
  // ICCSN of a smartcard: 20 digits.
  iccsn: { re: /^\d{20}$/, code: "INVALID_ICCSN", what: "20 digits" },
  ctId: { re: /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, code: "INVALID_CT_ID", what: "1-64 letters, digits, '_', '.', ':' or '-'" },
} as const;

export type Field = keyof typeof RULES;

export function check(field: Field, value: string): string {
  const rule = RULES[field];
  if (!rule.re.test(value)) throw new ValidationError(rule.code, field, `${field} "${value}" is not ${rule.what}`, { value });
  return value;
}

/** A real calendar date YYYY-MM-DD, not after `today`. */
export function checkProductionDate(value: string, today: string): string {
  check("producedOn", value);
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new ValidationError("INVALID_PRODUCTION_DATE", "producedOn", `producedOn "${value}" is not a calendar date`, { value });
  }
  if (value > today)
    throw new ValidationError("INVALID_PRODUCTION_DATE", "producedOn", `producedOn ${value} lies in the future (today is ${today})`, { value });
  return value;
}

export function checkName(value: string): string {
  const name = value.trim();
  if (name.length === 0 || name.length > 200) throw new ValidationError("INVALID_MANDANT_NAME", "name", "name must be 1-200 characters");
  return name;
}
