// Builds the web console (console/src) into dist/console: static files with content-hashed names
// under assets/, served at /console by transports/console.ts. Everything is bundled (no CDN), so
// the console works offline; preact keeps the framework part small.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // sigma and graphology are most of the bundle: a chunk of their own, loaded with the graph view.
    chunkSizeWarningLimit: 400,
  },
});
