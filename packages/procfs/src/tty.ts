/** A terminal device identified by its device number. */
export interface TerminalDevice {
  /**
   * - 'pts': a pseudo-terminal slave (/dev/pts/N): tmux, ssh, terminal emulators;
   * - 'vt': a virtual console (/dev/ttyN); 'serial': /dev/ttySN;
   * - 'console': /dev/console; 'tty': /dev/tty (the "current terminal" alias); 'ptmx': a pty master;
   * - 'other': a character device of another driver (USB serial, ...).
   */
  kind: 'pts' | 'vt' | 'serial' | 'console' | 'tty' | 'ptmx' | 'other';
  /** Device major number. */
  major: number;
  /** Device minor number. */
  minor: number;
  /** pts/vt/serial number. */
  index?: number | undefined;
  /** The usual /dev path, e.g. /dev/pts/3 (a guess for 'other'). */
  path: string;
}

const UNIX98_PTY_SLAVE_MAJOR = 136; // through 143 with the old 8-bit minors
const TTY_MAJOR = 4;
const TTYAUX_MAJOR = 5;

/** Splits a Linux dev_t (as in st_rdev) into major and minor. */
export function splitDeviceNumber(dev: number): {
  /** The major number. */
  major: number;
  /** The minor number. */
  minor: number;
} {
  // Same bit layout as glibc's gnu_dev_major/minor; dev_t fits in a double for every real device.
  const high = Math.floor(dev / 2 ** 32);
  const low = dev >>> 0;
  return {
    major: ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0),
    minor: (low & 0xff) | ((low >>> 12) & 0xfff00) | (((high & 0xfff) << 20) >>> 0),
  };
}

/** Names the terminal with this device number. */
export function terminalDevice(major: number, minor: number): TerminalDevice {
  if (major >= UNIX98_PTY_SLAVE_MAJOR && major <= UNIX98_PTY_SLAVE_MAJOR + 7) {
    const index = (major - UNIX98_PTY_SLAVE_MAJOR) * 256 + minor;
    return { kind: 'pts', major, minor, index, path: `/dev/pts/${index}` };
  }
  if (major === TTY_MAJOR && minor < 64)
    return { kind: 'vt', major, minor, index: minor, path: `/dev/tty${minor}` };
  if (major === TTY_MAJOR)
    return { kind: 'serial', major, minor, index: minor - 64, path: `/dev/ttyS${minor - 64}` };
  if (major === TTYAUX_MAJOR && minor === 0) return { kind: 'tty', major, minor, path: '/dev/tty' };
  if (major === TTYAUX_MAJOR && minor === 1)
    return { kind: 'console', major, minor, path: '/dev/console' };
  if (major === TTYAUX_MAJOR && minor === 2)
    return { kind: 'ptmx', major, minor, path: '/dev/ptmx' };
  return { kind: 'other', major, minor, path: `/dev/char/${major}:${minor}` };
}

/** True when a character device with this major is a terminal driver this package names. */
export function isTerminalMajor(major: number): boolean {
  return (
    major === TTY_MAJOR ||
    major === TTYAUX_MAJOR ||
    (major >= UNIX98_PTY_SLAVE_MAJOR && major <= 143)
  );
}

/**
 * Decodes stat's tty_nr (the controlling terminal). Its layout differs from dev_t:
 * major in bits 8-15, minor in bits 0-7 and 20-31. Undefined when there is no controlling terminal.
 */
export function decodeTtyNr(ttyNr: number): TerminalDevice | undefined {
  if (ttyNr === 0) return undefined;
  const major = (ttyNr >>> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >>> 12) & 0xfff00);
  return terminalDevice(major, minor);
}
