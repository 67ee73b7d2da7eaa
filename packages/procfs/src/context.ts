/** Machine facts a parser needs to turn kernel units into plain ones. */
export interface ParseContext {
  /** USER_HZ: the unit of the tick fields in stat (getconf CLK_TCK). */
  clockTicks: number;
  /** Bytes per page, the unit of rss in stat. */
  pageSize: number;
  /** Boot time in ms since the epoch (btime of /proc/stat); start times are relative to it. */
  bootTimeMs: number;
}

/** The values nearly every Linux machine has; bootTimeMs 0 makes start times relative to boot. */
export const defaultParseContext: ParseContext = { clockTicks: 100, pageSize: 4096, bootTimeMs: 0 };
