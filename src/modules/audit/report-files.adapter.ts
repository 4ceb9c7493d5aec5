import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { coerceError } from '../../core/errors.js';

/** The files of an audit run: its directory, the unlisted report, reading report lines back. */
export interface AuditFiles {
  ensureDirectory(dir: string): Promise<void>;
  /** Written under a temporary name, then renamed. */
  writeLines(file: string, lines: readonly string[]): Promise<void>;
  /** Lines of a report file, streamed; none when it does not exist. */
  readLines(file: string): AsyncIterable<string>;
  exists(file: string): Promise<boolean>;
}

export class LocalAuditFiles implements AuditFiles {
  async ensureDirectory(dir: string): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
  }

  async writeLines(file: string, lines: readonly string[]): Promise<void> {
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
    await fs.promises.writeFile(temp, lines.map((l) => `${l}\n`).join(''));
    await fs.promises.rename(temp, file);
  }

  async *readLines(file: string): AsyncIterable<string> {
    let stream: fs.ReadStream;
    try {
      await fs.promises.access(file);
      stream = fs.createReadStream(file, { encoding: 'utf8' });
    } catch (e) {
      if ((coerceError(e) as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of lines) if (line !== '') yield line;
  }

  async exists(file: string): Promise<boolean> {
    try {
      await fs.promises.access(file);
      return true;
    } catch {
      return false;
    }
  }
}
