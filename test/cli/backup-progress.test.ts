import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressBar, formatDuration } from '../../cli/progress-bar';
import type { BackupProgress } from '../../lib/backup/run-backup';

function fakeTerminal(isTTY: boolean) {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += chunk;
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { isTTY, columns: 120 });
  return { w, text: () => text };
}

const p = (over: Partial<BackupProgress>): BackupProgress => ({
  id: '20261125T020000Z-abcdefgh', phase: 'data', tablesTotal: 12, tablesDone: 3, rows: 1234567, rawBytes: 50 * 1048576, archiveBytes: 0, pagesDone: 250, pagesTotal: 1000, elapsedMs: 0, ...over,
});

describe('backup progress bar', () => {
  it('shows tables, rows, bytes, rate and ETA on a terminal, and clears itself', async () => {
    const t = fakeTerminal(true);
    const bar = new ProgressBar(t.w);
    bar.backup(p({ pagesDone: 0, rows: 0, rawBytes: 0, tablesDone: 0 }));
    await new Promise((r) => setTimeout(r, 300));
    bar.backup(p({}));
    const last = t.text().split('\r').filter(Boolean).at(-1)!;
    expect(last).toMatch(/^\[######\.{18}\] 3\/12 tables {2}1,234,567 rows {2}50\.0 MB read {2}[0-9.]+ (KB|MB|GB)\/s {2}ETA \d+:\d\d/);
    bar.done();
    expect(t.text().endsWith('\r')).toBe(true);
  });

  it('prints nothing when stderr is not a terminal (logs, --json)', () => {
    const t = fakeTerminal(false);
    const bar = new ProgressBar(t.w);
    bar.backup(p({}));
    bar.done();
    expect(t.text()).toBe('');
  });

  it('formats durations', () => {
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });
});
