// @cryopipe/criu-client/images: read CRIU checkpoint images in TypeScript.

export * as messages from '../gen/images_pb.ts';
export {
  type CheckpointSummary,
  type DescriptorSummary,
  type FileSummary,
  type FileUse,
  type ImageSummary,
  type MemoryBytes,
  PAGE_SIZE,
  type PipeEnd,
  type PipeSummary,
  type ProcessState,
  type ProcessSummary,
  readCheckpoint,
  readImages,
  summarizeCheckpoint,
  type ThreadSummary,
} from './checkpoint.ts';
export {
  type AnyImage,
  classifyImage,
  type DecodedImage,
  type DecodedMagic,
  decodeImage,
  ENTRY_SCHEMAS,
  type EntryJson,
  type ImageEntry,
  type ImageJson,
  imageToJson,
  isFramedImage,
  type RawImage,
  type UnknownImage,
} from './decode.ts';
export {
  type CheckpointDiff,
  diffCheckpoints,
  type FileOffsetChange,
  type MemoryChange,
  type PipeChange,
} from './diff.ts';
export {
  ImageError,
  type ImageErrorCode,
  type ImageHead,
  type RawEntry,
  readHead,
  splitEntries,
} from './framing.ts';
export {
  IMG_COMMON_MAGIC,
  IMG_SERVICE_MAGIC,
  type ImageMagic,
  MAGICS,
  magicName,
} from './magic.ts';
