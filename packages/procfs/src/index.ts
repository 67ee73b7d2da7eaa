export { type AuxvFacts, parseAuxv } from './auxv.ts';
export { type CgroupMembership, parseCgroup } from './cgroup.ts';
export { parseChildren } from './children.ts';
export { parseCmdline } from './cmdline.ts';
export { defaultParseContext, type ParseContext } from './context.ts';
export {
  type AnonDescriptor,
  type AnonInodeKind,
  accessModeOfLinkMode,
  bracketInode,
  classifyDescriptor,
  type Descriptor,
  type DescriptorFacts,
  type DeviceDescriptor,
  type DirectoryDescriptor,
  type FifoDescriptor,
  type FileDescriptor,
  fileIdentity,
  type MemfdDescriptor,
  type NamespaceDescriptor,
  type OpenFileStat,
  type PipeDescriptor,
  type PtyMasterDescriptor,
  type SocketDescriptor,
  type TerminalDescriptor,
  type UnknownDescriptor,
} from './descriptor.ts';
export { parseEnviron } from './environ.ts';
export { ProcfsError, type ProcfsErrorCode } from './errors.ts';
export { type AccessMode, accessModeOfFlags, type FdInfo, parseFdInfo } from './fdinfo.ts';
export { parseLimits, type ResourceLimit, type ResourceLimits } from './limits.ts';
export { type MemoryMapping, parseMaps } from './maps.ts';
export { type MountInfo, parseMountInfo } from './mountinfo.ts';
export { type InetEndpoint, type InetSocketEntry, parseNetInet } from './net-inet.ts';
export { type NetlinkSocketEntry, parseNetNetlink } from './net-netlink.ts';
export { parseNetUnix, type UnixSocketEntry } from './net-unix.ts';
export { type Namespace, type NamespaceType, parseNamespaceLink } from './ns.ts';
export {
  type EndLocation,
  type PipeConnection,
  type PipeEndHolder,
  pipePeers,
  type SocketUse,
  socketUses,
  type WritableFile,
  writableFiles,
} from './peers.ts';
export { ProcessHandle } from './process.ts';
export { isKernelThread, PF, type ProcessFlags, processFlags } from './process-flags.ts';
export {
  type DescriptorRef,
  Procfs,
  type ProcfsOptions,
  type SnapshotOptions,
  type TreeOptions,
} from './procfs.ts';
export type { OutsideHolder, OutsideView, ProcessSnapshot, Snapshot } from './snapshot.ts';
export type { SocketInfo, SocketTable } from './socket.ts';
export { type ProcessStat, parseStat } from './stat.ts';
export { type ProcessStatus, parseStatus } from './status.ts';
export { parseSystemStat, type SystemStat } from './system-stat.ts';
export {
  type ControllingTerminal,
  type TerminalFacts,
  type TerminalHandle,
  terminalFacts,
} from './terminal.ts';
export { buildTree, type ProcessTree, type ProcessTreeNode } from './tree.ts';
export { decodeTtyNr, splitDeviceNumber, type TerminalDevice, terminalDevice } from './tty.ts';
