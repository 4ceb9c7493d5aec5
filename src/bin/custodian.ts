import { CommanderError } from 'commander';
import { buildProgram } from '../app/cli.js';
import { exitCodeFor, ExitCode } from '../core/cli/exit-codes.js';
import { coerceError, isCustodianError } from '../core/errors.js';

/**
 * Entry point: parse argv, run one command, map a thrown error to its exit code (the mapping
 * itself lives in core/cli/exit-codes.ts). Commands set process.exitCode for "done, but problems
 * found" (1); everything else that goes wrong arrives here as a typed error.
 */
async function main(argv: string[]): Promise<void> {
  const { program, context } = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (thrown) {
    if (thrown instanceof CommanderError) {
      // Commander already printed the usage problem (or the help/version text).
      process.exitCode = thrown.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    const error = coerceError(thrown);
    const code = isCustodianError(error) ? error.code : 'INTERNAL';
    process.stderr.write(`custodian: ${error.message}\n`);
    if (!isCustodianError(error)) process.stderr.write(`${error.stack ?? ''}\n`);
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ error: { code, message: error.message } })}\n`);
    }
    process.exitCode = exitCodeFor(error);
  } finally {
    await context.close();
  }
}

void main(process.argv);
