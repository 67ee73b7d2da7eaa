/** Names of the files cryopipe keeps in a job directory's logs/. */
export const stageLogName = (stage: number): string => `stage-${stage}.log`;
