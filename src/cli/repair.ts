// `allsource repair`: cuts a damaged write-ahead log at a byte offset (the one an open's refusal
// names), keeping every event before it, after backing the file up next to itself. `--dry-run`
// reports what would be kept and lost and changes nothing.

import type { CliContext } from './context.js';
import type { Output } from './output.js';

export interface RepairFlags {
  truncateAt: number;
  file?: string;
  dryRun?: boolean;
}

/** Runs `allsource repair`: the report as aligned lines, or as JSON with --json. */
export async function runRepair(ctx: CliContext, flags: RepairFlags, out: Output): Promise<void> {
  const { repairWal } = await import('../core/embedded/repair.js');
  const report = repairWal(ctx.dataDir, { truncateAt: flags.truncateAt, file: flags.file, dryRun: flags.dryRun === true });
  if (ctx.json) {
    await out.json(report);
    return;
  }
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const row = (label: string, text: string): string => `${label.padEnd(11)}${text}`;
  const lines = [
    report.dry_run ? 'dry run: nothing was changed' : `cut ${report.file} at byte ${report.truncate_at}`,
    row('file', `${report.path} (${report.bytes} bytes)`),
    row('damage', report.damage === null ? 'none found' : `at byte ${report.damage.offset}: ${report.damage.reason}`),
    row(report.dry_run ? 'would keep' : 'kept', `${plural(report.kept.events, 'event')} in ${plural(report.kept.frames, 'frame')}, ${report.kept.bytes} bytes`),
    row(report.dry_run ? 'would lose' : 'lost', `${report.lost.bytes} bytes, holding ${plural(report.lost.events, 'event')} in ${plural(report.lost.frames, 'readable frame')}${report.damage === null ? '' : ' plus the damaged bytes'}`),
  ];
  if (report.backup !== null) lines.push(row('backup', `${report.backup} (the file as it was)`));
  if (report.newer_logs.length > 0) {
    lines.push(row('warning', `newer logs follow (${report.newer_logs.join(', ')}): their events stay, but a tenant with events in the lost part fails verify_integrity after the cut`));
  }
  if (report.dry_run && report.in_use_by !== null) lines.push(row('warning', `process ${report.in_use_by} holds the directory; stop it before repairing`));
  if (report.dry_run) lines.push(row('to cut', 'run the same command without --dry-run'));
  await out.write(`${lines.join('\n')}\n`);
}
