import fs from 'node:fs';
import { openDatabase } from '../src/core/db/database.js';
import { createTestDatabase } from '../test/helpers/database.js';
import { ARTIFACTS, dumpSchema, generateOpenApi } from './artifacts.js';

// `npm run artifacts`: rewrites docs/openapi.json and the schema dumps (needs PostgreSQL).
fs.writeFileSync(ARTIFACTS.openapi, await generateOpenApi());
for (const dialect of ['sqlite', 'postgres'] as const) {
  const test = await createTestDatabase(dialect);
  const database = await openDatabase(test.url);
  try {
    fs.writeFileSync(
      dialect === 'sqlite' ? ARTIFACTS.sqlite : ARTIFACTS.postgres,
      await dumpSchema(database),
    );
  } finally {
    await database.close();
    await test.drop();
  }
}
process.stdout.write(`wrote ${Object.values(ARTIFACTS).join(', ')}\n`);
