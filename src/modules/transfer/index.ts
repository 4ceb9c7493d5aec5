export {
  parseManifest,
  formatManifestLine,
  normalizeManifestPath,
  type ManifestEntry,
  type MalformedLine,
  type ParsedManifest,
} from './manifest.parser.js';
export { NodeFileHasher, type FileHasher, type NodeFileHasherOptions } from './checksum.adapter.js';
export { verifyDirectory, type VerifyResult, type VerifyOptions, type VerifyDeps } from './verify.service.js';
export { registerTransferCommands, renderVerify, type TransferCommandDeps } from './transfer.commands.js';
