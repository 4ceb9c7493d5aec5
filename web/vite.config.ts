import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Paths come from this file's location so the build works from any working directory.
const webDir = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));

export default defineConfig({
  root: webDir,
  base: '/',
  // No React plugin: esbuild's automatic JSX runtime is all the app needs (no fast refresh).
  esbuild: { jsx: 'automatic' },
  build: {
    outDir,
    emptyOutDir: true,
    rollupOptions: {
      // React Router marks its modules "use client" for server-component bundlers; a plain SPA
      // bundle ignores the directive, so the warning is noise.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
