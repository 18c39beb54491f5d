// Its own module so that progress listeners (progress-recorder, the dashboard's queries) can name
// the type without importing the engine that reports it (no import circle).
/** Progress of a running backup, for progress bars (CLI) and logs. */
export interface BackupProgress {
  id: string;
  phase: 'connecting' | 'schema' | 'data' | 'finishing' | 'verifying' | 'done';
  tablesTotal: number;
  tablesDone: number;
  /** Rows read so far. */
  rows: number;
  /** Uncompressed COPY bytes read so far. */
  rawBytes: number;
  /** Compressed bytes written to the archive so far. */
  archiveBytes: number;
  /** Heap pages covered by finished chunks, and in all (the ETA's measure of work). */
  pagesDone: number;
  pagesTotal: number;
  elapsedMs: number;
}
