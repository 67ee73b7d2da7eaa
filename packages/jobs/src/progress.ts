/** Receives one line per step of long work (the CLI prints it on stderr). */
export type Progress = (text: string) => void;

/** The default when a caller wants no progress. */
export const noProgress: Progress = () => {};
