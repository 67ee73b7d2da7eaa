/** /proc/PID/environ: NUL-separated NAME=value entries, as the process was started (later setenv is not visible). */
export function parseEnviron(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of text.split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    // An entry without '=' is legal in execve's envp; keep it with an empty value.
    if (eq < 0) env.set(entry, '');
    else env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}
