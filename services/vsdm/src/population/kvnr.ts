/**
 * The unchangeable part of the Krankenversichertennummer (KVNR): a capital letter, eight digits
 * and a check digit. The check digit: the letter as its two-digit position in the alphabet
 * (A = 01 ... Z = 26) followed by the eight digits, weighted 1, 2, 1, 2 ..., the digits of each
 * product summed (cross sum), the total modulo 10.
 */
export function kvnrCheckDigit(letter: string, digits: string): number {
  if (!/^[A-Z]$/.test(letter) || !/^\d{8}$/.test(digits)) throw new Error(`not a KVNR body: ${letter}${digits}`);
  const all = String(letter.charCodeAt(0) - 64).padStart(2, "0") + digits;
  let sum = 0;
  for (let i = 0; i < all.length; i++) {
    const p = Number(all[i]) * (i % 2 === 0 ? 1 : 2);
    sum += p > 9 ? p - 9 : p;
  }
  return sum % 10;
}

export function kvnr(letter: string, digits: string): string {
  return `${letter}${digits}${kvnrCheckDigit(letter, digits)}`;
}

export function isValidKvnr(value: string): boolean {
  const m = /^([A-Z])(\d{8})(\d)$/.exec(value);
  return Boolean(m && kvnrCheckDigit(m[1]!, m[2]!) === Number(m[3]));
}
