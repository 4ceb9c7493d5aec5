import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { InputError, coerceError, isCustodianError } from '../../core/errors.js';
import { requireRole } from '../../core/http/require-role.js';
import type { IngestService } from './ingest.service.js';
import type { UploadInput } from './ingest.types.js';
import {
  passResultSchema,
  runDetailSchema,
  runPageSchema,
  runParamsSchema,
  runsQuerySchema,
  uploadFieldsSchema,
  uploadResultSchema,
} from './ingest.schema.js';

export interface IngestRoutesOptions {
  service: IngestService;
}

/** Multipart errors of @fastify/multipart, by code, as messages that say what to change. */
const MULTIPART_PROBLEMS: Record<string, string> = {
  FST_REQ_FILE_TOO_LARGE: 'the file is larger than ingest.maxUploadBytes',
  FST_FILES_LIMIT: 'send exactly one file (field "file")',
  FST_FIELDS_LIMIT: 'too many form fields; send file, run, timestamp and agent',
  FST_PARTS_LIMIT: 'too many form parts; send file, run, timestamp and agent',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'send multipart/form-data with fields file, run, timestamp and agent',
  FST_PROTO_VIOLATION: 'a form field name is not allowed',
};

function uploadProblem(error: unknown): Error {
  if (isCustodianError(error)) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  const problem = typeof code === 'string' ? MULTIPART_PROBLEMS[code] : undefined;
  if (problem !== undefined) {
    const tooLarge = code === 'FST_REQ_FILE_TOO_LARGE';
    return new InputError(
      tooLarge ? 'INGEST_UPLOAD_TOO_LARGE' : 'INGEST_UPLOAD_BAD_FORM',
      `upload refused: ${problem}`,
    );
  }
  const message = coerceError(error).message;
  if (/multipart|boundary|terminated early/i.test(message)) {
    return new InputError(
      'INGEST_UPLOAD_BAD_FORM',
      `upload refused: the multipart body cannot be read (${message})`,
    );
  }
  return coerceError(error);
}

/**
 * Reads the multipart form (fields may come before or after the file) with the upload limit of
 * the ingest config, and validates the text fields. Nothing is written here.
 */
async function readUpload(request: FastifyRequest, maxBytes: number): Promise<UploadInput> {
  const fields: Record<string, string> = {};
  let bytes: Buffer | undefined;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 10 } })) {
      if (part.type === 'file') {
        const content = await part.toBuffer();
        if (part.fieldname !== 'file') {
          throw new InputError(
            'INGEST_UPLOAD_BAD_FORM',
            `unexpected file field "${part.fieldname}"; send the file as "file"`,
          );
        }
        bytes = content;
      } else {
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value);
      }
    }
  } catch (error) {
    throw uploadProblem(error);
  }
  if (bytes === undefined)
    throw new InputError('INGEST_UPLOAD_NO_FILE', 'no file in the upload; send it as the form field "file"');
  const parsed = uploadFieldsSchema.safeParse(fields);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new InputError('INGEST_UPLOAD_BAD_FIELD', `upload refused: ${problems}`, {
      details: { fields: Object.keys(fields) },
    });
  }
  return { ...parsed.data, bytes };
}

/** `/ingest/*` routes; register under /api/v1 (`registerApiRoutes(server, ingestRoutes, { service })`). */
export const ingestRoutes: FastifyPluginAsyncZod<IngestRoutesOptions> = (app, { service }) => {
  app.get(
    '/ingest/runs',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Runs, newest first',
        querystring: runsQuerySchema,
        response: { 200: runPageSchema },
      },
    },
    (request) => service.listRuns(request.query.limit, request.query.offset),
  );

  app.get(
    '/ingest/runs/:run',
    {
      schema: {
        tags: ['ingest'],
        summary: 'One run with its files per subsystem',
        params: runParamsSchema,
        response: { 200: runDetailSchema },
      },
    },
    (request) => service.getRun(request.params.run),
  );

  app.post(
    '/ingest/uploads',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['ingest'],
        summary: 'DQM upload: multipart file + run, timestamp (unix s), agent; stored in the drop directory',
        description:
          'multipart/form-data with the fields file (a ROOT file, at most ingest.maxUploadBytes), run (integer), ' +
          'timestamp (unix seconds) and agent (a configured subsystem). Stored as ' +
          '<agent>histos_<run>_DQM_<local time>.root in the drop directory; the next pass organizes it.',
        consumes: ['multipart/form-data'],
        response: { 201: uploadResultSchema },
      },
    },
    async (request, reply) => {
      const upload = await readUpload(request, service.maxUploadBytes);
      return reply.code(201).send(await service.storeUpload(upload));
    },
  );

  app.post(
    '/ingest/passes',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['ingest'],
        summary: 'Organize the drop directory now (same result as `ingest once --json`)',
        response: { 200: passResultSchema },
      },
    },
    () => service.runPass(),
  );

  return Promise.resolve();
};
