export { describeWith } from './describe-with.ts';
export { childrenOf, killJobRoot } from './proc.ts';
export { binary, criu, inCI, missing, type Requirement, root, which } from './requirements.ts';
export { type Host, type TwoHosts, type TwoHostsOptions, twoHosts } from './two-hosts.ts';
