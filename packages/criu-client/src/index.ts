// Placeholder until the package lands; replaced by its implementation.
export const packageName = '@cryopipe/criu-client';
