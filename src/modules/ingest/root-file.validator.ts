import { InputError, coerceError } from '../../core/errors.js';

/**
 * Checks that bytes are a readable ROOT file before they enter the pipeline: the "root" magic, a
 * header whose recorded length fits the bytes, and a key list (plus each key's payload) that
 * jsroot can read. Nothing is drawn; only jsroot's I/O module is loaded (the full bundle takes
 * half a second to import and pulls in drawing code).
 */

export interface RootFileSummary {
  /** Names of the top-level keys (objects) in the file, StreamerInfo excluded. */
  keys: string[];
}

/** The few members of jsroot's TFile that are read here (jsroot ships no types). */
interface JsrootKey {
  fName: string;
  fClassName: string;
}
interface JsrootFile {
  fKeys: JsrootKey[];
  readObjBuffer(key: JsrootKey): Promise<unknown>;
}
type OpenFile = (source: ArrayBuffer) => Promise<JsrootFile>;

let openFilePromise: Promise<OpenFile> | undefined;
function loadOpenFile(): Promise<OpenFile> {
  openFilePromise ??= import('jsroot/io').then((io) => io.openFile as OpenFile);
  return openFilePromise;
}

function corrupt(problem: string): InputError {
  return new InputError(
    'INGEST_UPLOAD_CORRUPT',
    `corrupt ROOT file: ${problem}; upload the complete file again`,
  );
}

/** Declared total length from the ROOT file header (fEND), or undefined when the header is too short. */
function declaredLength(view: DataView): number | undefined {
  if (view.byteLength < 16) return undefined;
  const version = view.getUint32(4);
  if (version < 1000000) return view.getUint32(12);
  if (view.byteLength < 20) return undefined;
  return Number(view.getBigUint64(12));
}

export async function validateRootFile(bytes: Uint8Array): Promise<RootFileSummary> {
  if (bytes.byteLength === 0) {
    throw new InputError('INGEST_UPLOAD_EMPTY', 'the uploaded file is empty; send the ROOT file itself');
  }
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== 'root') {
    throw new InputError(
      'INGEST_UPLOAD_NOT_ROOT',
      'the uploaded file is not a ROOT file (it does not start with the "root" signature)',
    );
  }
  // A private copy: jsroot keeps the buffer, and the caller's view may cover a larger pool.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const declared = declaredLength(new DataView(buffer));
  if (declared === undefined) throw corrupt(`only ${bytes.byteLength} bytes, too short for a ROOT header`);
  if (declared > bytes.byteLength) {
    throw corrupt(`truncated: the header says ${declared} bytes, ${bytes.byteLength} arrived`);
  }
  const openFile = await loadOpenFile();
  let file: JsrootFile;
  try {
    file = await openFile(buffer);
  } catch (error) {
    throw corrupt(`its key list cannot be read (${coerceError(error).message})`);
  }
  const keys = Array.isArray(file.fKeys) ? file.fKeys : [];
  const objects = keys.filter((key) => key.fName !== 'StreamerInfo');
  for (const key of objects) {
    try {
      await file.readObjBuffer(key);
    } catch (error) {
      throw corrupt(`object "${key.fName}" cannot be read (${coerceError(error).message})`);
    }
  }
  return { keys: objects.map((key) => key.fName) };
}
