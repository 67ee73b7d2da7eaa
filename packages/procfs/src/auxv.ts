/** The auxiliary-vector entries used to build a ParseContext. */
export interface AuxvFacts {
  /** AT_PAGESZ: the page size in bytes; undefined when the entry is missing. */
  pageSize?: number | undefined;
  /** AT_CLKTCK: clock ticks per second (the unit of stat's times); undefined when missing. */
  clockTicks?: number | undefined;
}

const AT_PAGESZ = 6n;
const AT_CLKTCK = 17n;

/**
 * Parses /proc/PID/auxv of a 64-bit process: pairs of native-endian u64 (type, value).
 * This is where getconf gets PAGESIZE and CLK_TCK from, without spawning getconf.
 */
export function parseAuxv(bytes: Uint8Array): AuxvFacts {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const facts: AuxvFacts = {};
  for (let at = 0; at + 16 <= bytes.byteLength; at += 16) {
    const type = view.getBigUint64(at, little);
    const value = view.getBigUint64(at + 8, little);
    if (type === 0n) break;
    if (type === AT_PAGESZ) facts.pageSize = Number(value);
    if (type === AT_CLKTCK) facts.clockTicks = Number(value);
  }
  return facts;
}
