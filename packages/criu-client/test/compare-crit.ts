// Field-by-field comparison of our JSON for an entry (imageToJson) with
// crit's, driven by our schema: every field we declare must be absent on
// both sides or equal on both. Fields we don't declare are not compared.
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';

/** Undoes crit's quoted-printable conversion of unix socket names ("unix_name"). */
function fromQuotedPrintable(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '=' && text[i + 1] === '\n') i += 1;
    else if (c === '=' && /^[0-9A-F]{2}$/i.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(out);
}

function scalarEqual(field: DescField, ours: unknown, theirs: unknown): boolean {
  // bytes: ours base64; crit base64 with newlines, or quoted-printable for unix names.
  if (field.fieldKind === 'scalar' && field.scalar === ScalarType.BYTES) {
    if (typeof ours === 'string' && typeof theirs === 'string') {
      const mine = Buffer.from(ours, 'base64');
      const other =
        field.name === 'name' && field.parent.typeName === 'unix_sk_entry'
          ? fromQuotedPrintable(theirs)
          : Buffer.from(theirs.replace(/\s/g, ''), 'base64');
      return mine.equals(other);
    }
  }
  // 64-bit integers: ours decimal strings, crit numbers (or strings, see critDecode).
  if (
    (typeof ours === 'string' || typeof ours === 'number') &&
    (typeof theirs === 'string' || typeof theirs === 'number') &&
    /^-?\d+$/.test(String(ours)) &&
    /^-?\d+$/.test(String(theirs))
  ) {
    return BigInt(String(ours)) === BigInt(String(theirs));
  }
  return ours === theirs;
}

/** Mismatches between `ours` and `theirs` for message `schema`, as readable lines. */
export function compareEntry(
  schema: DescMessage,
  ours: Record<string, unknown>,
  theirs: Record<string, unknown>,
  path = schema.typeName,
): string[] {
  const problems: string[] = [];
  for (const field of schema.fields) {
    const here = `${path}.${field.name}`;
    const a = ours[field.name];
    const b = theirs[field.name];
    if (a === undefined && b === undefined) continue;
    if (a === undefined || b === undefined) {
      problems.push(`${here}: ours ${JSON.stringify(a)}, crit ${JSON.stringify(b)}`);
      continue;
    }
    if (field.fieldKind === 'message') {
      problems.push(
        ...compareEntry(
          field.message,
          a as Record<string, unknown>,
          b as Record<string, unknown>,
          here,
        ),
      );
    } else if (field.fieldKind === 'list') {
      const xs = a as unknown[];
      const ys = b as unknown[];
      if (!Array.isArray(xs) || !Array.isArray(ys) || xs.length !== ys.length) {
        problems.push(`${here}: ours ${JSON.stringify(a)}, crit ${JSON.stringify(b)}`);
        continue;
      }
      xs.forEach((x, i) => {
        if (field.listKind === 'message') {
          problems.push(
            ...compareEntry(
              field.message,
              x as Record<string, unknown>,
              ys[i] as Record<string, unknown>,
              `${here}[${i}]`,
            ),
          );
        } else if (!scalarEqual(field, x, ys[i])) {
          problems.push(`${here}[${i}]: ours ${JSON.stringify(x)}, crit ${JSON.stringify(ys[i])}`);
        }
      });
    } else if (!scalarEqual(field, a, b)) {
      problems.push(`${here}: ours ${JSON.stringify(a)}, crit ${JSON.stringify(b)}`);
    }
  }
  return problems;
}
