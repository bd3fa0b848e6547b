// Benchmark statistics and output: percentiles over latency samples, number formatting, the
// comparison rows (ratio = allsource / sqlite, pass/MISS against a target) and the markdown table.

/** Nearest-rank percentile (p in 0..100) of the samples; sorts a copy. */
export function percentile(samples: Float64Array, p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Row {
  scenario: string;
  unit: string;
  /** Measured values; null when that peer was not run, a string when it failed. */
  allsource: number | string | null;
  sqlite: number | string | null;
  /** allsource / sqlite, when both are numbers. */
  ratio: number | null;
  /** Human-readable target, e.g. ">= 250k/s and >= 3.00x" ('' when informational). */
  target: string;
  result: 'pass' | 'MISS' | 'n/a' | '';
}

export interface Target {
  text: string;
  /** Decides pass/MISS from allsource's value and the ratio (null when there is no SQLite figure). */
  check(allsource: number, ratio: number | null): boolean | null;
}

export function makeRow(
  scenario: string,
  unit: string,
  allsource: number | string | null,
  sqlite: number | string | null,
  target?: Target,
): Row {
  const ratio = typeof allsource === 'number' && typeof sqlite === 'number' && sqlite !== 0 ? allsource / sqlite : null;
  let result: Row['result'] = '';
  if (target) {
    if (typeof allsource !== 'number') result = 'n/a';
    else {
      const ok = target.check(allsource, ratio);
      result = ok === null ? 'n/a' : ok ? 'pass' : 'MISS';
    }
  }
  return { scenario, unit, allsource, sqlite, ratio, target: target?.text ?? '', result };
}

/** Formats a number compactly with thousands separators and sensible precision. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(ratio: number): string {
  if (ratio >= 10) return ratio.toFixed(1);
  if (ratio >= 0.1) return ratio.toFixed(2);
  return ratio.toPrecision(2);
}

function cell(value: number | string | null, unit: string): string {
  if (value === null) return '—';
  if (typeof value === 'string') return value;
  return `${formatNumber(value)} ${unit}`;
}

/** Column titles of the two peers and their ratio (default: allsource, sqlite, ratio). */
export interface TableHeader {
  a: string;
  b: string;
  ratio: string;
}

/** Renders the rows as one markdown table with aligned columns. */
export function renderTable(rows: Row[], names: TableHeader = { a: 'allsource', b: 'sqlite', ratio: 'ratio' }): string {
  const header = ['scenario', names.a, names.b, names.ratio, 'target', 'result'];
  const body = rows.map((r) => [
    r.scenario,
    cell(r.allsource, r.unit),
    cell(r.sqlite, r.unit),
    r.ratio === null ? '—' : `${formatRatio(r.ratio)}x`,
    r.target || '—',
    r.result || '—',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((line) => line[c].length)));
  const line = (cells: string[]): string => `| ${cells.map((text, c) => text.padEnd(widths[c])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
