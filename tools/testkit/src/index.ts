export { describeWith } from './describe-with.ts';
export { binary, criu, inCI, missing, type Requirement, root, which } from './requirements.ts';
