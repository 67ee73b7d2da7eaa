/**
 * /proc/PID/cmdline: NUL-separated arguments. Empty for kernel threads and zombies.
 * A process that rewrote its argv may leave no trailing NUL or use spaces instead; the text is kept as given.
 */
export function parseCmdline(text: string): string[] {
  if (text === '') return [];
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}
