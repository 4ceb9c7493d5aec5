import type { Command } from 'commander';
import { ExitCode } from '../../core/cli/exit-codes.js';
import type { Output } from '../../core/cli/output.js';
import { NodeFileHasher, type FileHasher } from './checksum.adapter.js';
import { verifyDirectory, type VerifyResult } from './verify.service.js';

export interface TransferCommandDeps {
  output: (options: { json: boolean }) => Output;
  /** Default: the real filesystem. */
  files?: () => FileHasher;
}

interface VerifyCommandOptions {
  json?: boolean;
  manifest?: string;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function renderVerify(result: VerifyResult): string {
  const lines = [
    `${result.ok ? 'OK' : 'FAILED'}: ${result.verified} files verified (${formatBytes(result.bytes)})`,
  ];
  const list = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`, ...items.map((item) => `  ${item}`));
  };
  list('missing', result.missing);
  list('unlisted', result.unlisted);
  list('mismatched', result.mismatched);
  list(
    'malformed manifest lines',
    result.malformed.map((m) => (m.line === 0 ? m.text : `line ${m.line}: ${m.text}`)),
  );
  return lines.join('\n');
}

/** `custodian transfer verify`. Pure filesystem work: no config or database is needed. */
export function registerTransferCommands(program: Command, deps: TransferCommandDeps): Command {
  const transfer = program
    .command('transfer')
    .description('raw-data transfer: copy, verify checksums, publish read-only, archive');

  transfer
    .command('verify <dir>')
    .description(
      'check DIR against its sha256sum manifest (exit 0 all good, 1 differences or a bad/missing manifest, 2 no DIR)',
    )
    .option('--manifest <file>', 'manifest file (default: the single *.sha256sum file in DIR)')
    .option('--json', 'print JSON')
    .action(async (dir: string, options: VerifyCommandOptions) => {
      const files = deps.files?.() ?? new NodeFileHasher();
      const result = await verifyDirectory({ dir, manifest: options.manifest }, { files });
      deps.output({ json: options.json === true }).result(result, renderVerify);
      if (!result.ok) process.exitCode = ExitCode.problemsFound;
    });
  return transfer;
}
