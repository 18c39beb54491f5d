import type { BackupProgress } from '../lib/backup/run-backup';
import { formatBytes } from '../lib/backup/format-bytes';

/** "1:05" / "1:02:03" */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * A one-line progress bar on a terminal (stderr): tables done/total, rows, bytes read, rate and
 * ETA. Does nothing when the stream is not a TTY, so logs and `--json` output stay clean.
 */
export class ProgressBar {
  private lastLen = 0;
  private readonly enabled: boolean;
  private dataStartedAt = 0;
  private dataStartPages = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(out.isTTY);
  }

  /** Renders a backup progress report. */
  backup(p: BackupProgress): void {
    if (!this.enabled) return;
    if (p.phase !== 'data' && p.phase !== 'finishing') {
      this.render(`${p.phase === 'connecting' ? 'connecting' : p.phase === 'schema' ? 'reading the schema' : p.phase === 'verifying' ? 'verifying the stored backup' : 'done'} …`);
      return;
    }
    if (!this.dataStartedAt) {
      this.dataStartedAt = Date.now();
      this.dataStartPages = p.pagesDone;
    }
    const frac = p.pagesTotal > 0 ? Math.min(1, p.pagesDone / p.pagesTotal) : p.tablesTotal ? p.tablesDone / p.tablesTotal : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - this.dataStartedAt) / 1000;
    const rate = secs > 0.2 ? p.rawBytes / secs : 0;
    const donePages = p.pagesDone - this.dataStartPages;
    const eta = donePages > 0 && p.pagesTotal > 0 ? ((p.pagesTotal - p.pagesDone) * (secs * 1000)) / donePages : NaN;
    this.render(
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.tablesDone}/${p.tablesTotal} tables  ${p.rows.toLocaleString('en-US')} rows  ${formatBytes(p.rawBytes)} read  ${rate ? `${formatBytes(rate)}/s` : '—'}  ETA ${Number.isFinite(eta) ? formatDuration(eta) : '—'}`,
    );
  }

  private render(line: string): void {
    const cols = this.out.columns || 100;
    const l = line.slice(0, cols - 1);
    this.out.write(`\r${l}${' '.repeat(Math.max(0, this.lastLen - l.length))}`);
    this.lastLen = l.length;
  }

  /** Clears the bar so the next output starts on a clean line. */
  done(): void {
    if (!this.enabled || !this.lastLen) return;
    this.out.write(`\r${' '.repeat(this.lastLen)}\r`);
    this.lastLen = 0;
  }
}
