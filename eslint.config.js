// Lint configuration: typescript-eslint's recommended rules over every TypeScript source, and the
// layers as import rules. Bottom to top: src/text (the tokenizer leaf), src/core, src/embed, src/prime and
// src/payments (x402, on the store alone), then tools/ (the MCP tools), transports/, and the CLI
// (src/cli, bin/); the browser's console/ sits apart and takes types only. A module imports only
// from below, so no layer can grow a cycle. (Dynamic `import()` is not checked; the CLI uses it to
// load tools and transports lazily.) Within src/core, the adapters behind the port (http/,
// postgres/) are leaves like embedded/; postgres/ is reached only through import(), so `pg` is
// never loaded in embedded mode.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A layer, as the import paths that reach it (relative imports from anywhere in the repo). */
const LAYER = {
  core: ['**/core/**'],
  postgres: ['**/core/postgres/**'],
  text: ['**/text/**'],
  embed: ['**/embed/**'],
  prime: ['**/prime/**'],
  payments: ['**/payments/**'],
  cli: ['**/cli/**'],
  tools: ['**/tools/**'],
  transports: ['**/transports/**'],
  bin: ['**/bin/**'],
};

/**
 * `no-restricted-imports` for files of layer `from`, which may not import any of `banned`. One
 * rule setting per file: ESLint does not merge a rule's options across config blocks (the last
 * block that matches wins), so each block states its whole list.
 */
function layerRule(from, banned, why) {
  return [
    'error',
    {
      patterns: banned.map((layer) => ({
        group: LAYER[layer],
        message:
          layer === 'postgres'
            ? `${from} may not import src/core/postgres statically: load it with import() so pg is loaded only when PostgreSQL is used`
            : `${from} may not import ${layer === 'bin' || layer === 'tools' || layer === 'transports' ? `${layer}/` : `src/${layer}`}: ${why}`,
      })),
    },
  ];
}

const ABOVE_SRC = ['tools', 'transports', 'bin'];
/** Every layer outside src/core/postgres reaches it through import() only. */
const LAZY = ['postgres'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.exp/', '.prof/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The layers. More specific blocks come later and replace the general src/ one.
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/', [...ABOVE_SRC, ...LAZY], 'the library sits below the MCP tools, the transports and the CLI entry point') },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/core', ['prime', 'payments', 'embed', 'cli', ...ABOVE_SRC, ...LAZY], 'the EventStore port and its adapters are the bottom layer (beside the tokenizer leaf, src/text, which they may use)') },
  },
  {
    // The PostgreSQL adapter itself.
    files: ['src/core/postgres/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/core/postgres', ['prime', 'payments', 'embed', 'cli', ...ABOVE_SRC], 'the EventStore port and its adapters are the bottom layer') },
  },
  {
    // The public API re-exports PostgresCore's types; its openPostgresCore is an import().
    files: ['src/index.ts'],
    rules: { 'no-restricted-imports': layerRule('src/', ABOVE_SRC, 'the library sits below the MCP tools, the transports and the CLI entry point') },
  },
  {
    files: ['src/payments/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/payments', ['prime', 'embed', 'text', 'cli', ...ABOVE_SRC, ...LAZY], 'x402 payments sit on the store alone, below the MCP tools that they guard') },
  },
  {
    files: ['src/text/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/text', ['core', 'embed', 'prime', 'payments', 'cli', ...ABOVE_SRC], 'the tokenizer is a leaf that embed and prime share') },
  },
  {
    files: ['src/embed/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/embed', ['prime', 'payments', 'cli', ...ABOVE_SRC, ...LAZY], 'embedders sit below Prime and everything above it') },
  },
  {
    files: ['src/prime/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/prime', ['payments', 'cli', ...ABOVE_SRC, ...LAZY], 'Prime sits below the MCP tools and the CLI') },
  },
  {
    // The CLI's implementation: it loads the tools and the stdio transport (lazily), never the entry point.
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('src/cli', ['bin', ...LAZY], 'bin/allsource.ts is the entry point that imports the CLI') },
  },
  {
    files: ['tools/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('tools/', ['cli', 'transports', 'bin', ...LAZY], 'the MCP tools sit below the transports and the CLI that serve them') },
  },
  {
    files: ['transports/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule('transports/', ['cli', 'bin', ...LAZY], 'transports sit below the CLI that starts them') },
  },
  {
    // The web console runs in a browser and is a client of the public APIs: from the server's
    // code it may take types only (the wire shapes), never a module that would run.
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    ignores: ['console/vite.config.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: Object.values(LAYER).flat(),
              allowTypeImports: true,
              message: 'console/ may import only types from the server (it talks to it over /api/v1 and /mcp)',
            },
          ],
        },
      ],
    },
  },
);
