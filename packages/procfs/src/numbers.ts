import { parseError } from './errors.ts';

/** True when `text` is an optional '-' followed by one or more ASCII digits (a hot path: no regex). */
function isDecimal(text: string): boolean {
  const start = text.charCodeAt(0) === 45 ? 1 : 0;
  if (text.length === start) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A decimal integer field; anything else is a PARSE error naming `field`. */
export function int(text: string | undefined, what: string, field: string, path?: string): number {
  if (text === undefined || !isDecimal(text)) {
    throw parseError(
      what,
      `${field} is ${text === undefined ? 'missing' : JSON.stringify(text)}, expected an integer`,
      path,
    );
  }
  return Number(text);
}

/** Like `int`, but an absent field (older kernel, truncated line) is undefined. */
export function optionalInt(
  text: string | undefined,
  what: string,
  field: string,
  path?: string,
): number | undefined {
  return text === undefined || text === '' ? undefined : int(text, what, field, path);
}

/** A hexadecimal field such as a signal mask or capability set, as a bigint. */
export function hex(text: string | undefined, what: string, field: string, path?: string): bigint {
  if (text === undefined || !/^[0-9a-fA-F]+$/.test(text)) {
    throw parseError(
      what,
      `${field} is ${text === undefined ? 'missing' : JSON.stringify(text)}, expected hex`,
      path,
    );
  }
  return BigInt(`0x${text}`);
}

/** Undoes the kernel's octal escapes (`\040` for a space) used in mountinfo and maps-like files. */
export function unescapeOctal(text: string): string {
  return text.includes('\\')
    ? text.replace(/\\([0-7]{3})/g, (_, oct: string) =>
        String.fromCharCode(Number.parseInt(oct, 8)),
      )
    : text;
}
