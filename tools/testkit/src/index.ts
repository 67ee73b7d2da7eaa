export { describeWith } from './describe-with.ts';
export { childrenOf } from './proc.ts';
export { binary, criu, inCI, missing, type Requirement, root, which } from './requirements.ts';
