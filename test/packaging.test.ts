// What `npm publish` would ship, checked from `npm pack --dry-run --json` (scripts skipped: npm
// test has just built dist): the entry points, LICENSE and README are in; tests and benchmarks
// are out; every import of every packed module resolves inside the tarball or to a runtime
// dependency (never a devDependency, which an installed package does not have); source maps
// carry their sources, since the .ts files are not shipped.

import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  main: string;
  exports: Record<string, { types: string; import: string }>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
  license: string;
  repository?: { url?: string };
  homepage?: string;
  bugs?: { url?: string };
};
let files: Set<string>;

beforeAll(() => {
  // npm on PATH next to this node; the JSON report lists every file the tarball would hold.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  files = new Set(report.files.map((f) => f.path));
}, 60_000);

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('the published package', () => {
  it('holds the CLI, the library entry points, LICENSE and README, and no tests or benchmarks', () => {
    for (const path of ['dist/bin/allsource.js', 'LICENSE', 'README.md', 'package.json', pkg.main, ...Object.values(pkg.bin)]) {
      expect(files.has(path.replace(/^\.\//, '')), path).toBe(true);
    }
    for (const entry of Object.values(pkg.exports)) {
      expect(files.has(entry.import.replace(/^\.\//, '')), entry.import).toBe(true);
      expect(files.has(entry.types.replace(/^\.\//, '')), entry.types).toBe(true);
    }
    const strays = [...files].filter((path) => /(^|\/)(test|bench)\//.test(path) || path.endsWith('.ts') && !path.endsWith('.d.ts'));
    expect(strays).toEqual([]);
    expect(readFileSync(join(ROOT, 'dist/bin/allsource.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the allsource authors\n/);
  });

  it('declares where it lives, and builds on prepack, not on every install (prepare)', () => {
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/github\.com\/.+\.git$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs?.url).toMatch(/^https:\/\//);
    expect(pkg.scripts.prepack).toContain('npm run build');
    expect(pkg.scripts.prepare).toBeUndefined();
    // Without `prepare`, the test command must still build before it runs dist/.
    expect(pkg.scripts.pretest).toBe('npm run build');
  });

  it('imports at run time only its own files, Node built-ins and runtime dependencies', () => {
    const runtime = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const modules = [...files].filter((path) => path.endsWith('.js'));
    expect(modules.length).toBeGreaterThan(50);
    for (const path of modules) {
      // preProcessFile finds static imports, re-exports and dynamic import('…') with a literal.
      const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, path), 'utf8'), true, true);
      for (const { fileName: specifier } of importedFiles) {
        if (specifier.startsWith('.')) {
          const target = posix.normalize(posix.join(dirname(path), specifier));
          if (!files.has(target)) problems.push(`${path}: ${specifier} (${target} is not in the tarball)`);
        } else if (specifier.startsWith('node:') || builtins.has(specifier)) {
          continue;
        } else if (!runtime.has(packageName(specifier))) {
          const kind = packageName(specifier) in pkg.devDependencies ? 'a devDependency' : 'not a dependency';
          problems.push(`${path}: ${specifier} (${kind})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('ships source maps only with their sources inlined (the .ts files are not in the tarball)', () => {
    const maps = [...files].filter((path) => path.endsWith('.js.map'));
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      expect(map.sourcesContent?.length, path).toBe(map.sources.length);
      expect(map.sourcesContent!.every((text) => typeof text === 'string' && text.length > 0), path).toBe(true);
    }
  });
});
