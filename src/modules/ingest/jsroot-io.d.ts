// jsroot declares its subpath modules, but its package exports give TypeScript no types for
// them under NodeNext resolution; root-file.validator.ts types what it uses itself.
declare module 'jsroot/io' {
  export function openFile(source: ArrayBuffer): Promise<unknown>;
}
