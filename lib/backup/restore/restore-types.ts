/**
 * Types of the restore, in a module of their own so that the orchestrators (restore-backup,
 * restore-parallel), the planners, the load loop and the drill import them without importing each
 * other (no import circle).
 */
import type pg from 'pg';
import type { StorageBackend } from '../../storage/storage-backend';
import type { ArchiveSource } from '../archive-reader';
import type { Manifest, ManifestEntry, ManifestTable } from '../manifest';

export type RestoreMode = 'fresh' | 'replace' | 'data-only' | 'into-schema';

/** What every restore (atomic, parallel, drill) is told. */
export interface RestoreCommonOptions {
  /** A backup id (read from `storage`) or the path of a downloaded `<id>.sql.gz`. */
  source: string;
  storage?: StorageBackend;
  targetUrl: string;
  /** Restore a backup newer than this app's migrations; restore an archive file without a manifest (fresh only). */
  force?: boolean;
  /** Asked with the plan before anything changes (the CLI's confirmation prompt); false cancels. */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  onPlan?: (plan: RestorePlan) => void;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
  /** Leave owners as the restoring role (skip the archive's OWNER members), as pg_restore --no-owner. */
  noOwner?: boolean;
  /** Skip the archive's privileges (ACL and DEFAULT ACL members), as pg_restore --no-privileges. */
  noPrivileges?: boolean;
  /**
   * Also re-read every restored table before COMMIT and compare its content fingerprint with the
   * manifest's: proves the server STORED exactly what was sent (no trigger, rule, default or type
   * conversion on the target changed a value). Off by default (`restore --check-content` turns it
   * on; drills always do): every restore anyway checks each member's SHA-256 as it streams and each
   * table's row count as the server counted it (the COPY command tag) before COMMIT.
   */
  checkContent?: boolean;
}

export interface RestoreOptions extends RestoreCommonOptions {
  /** Default 'fresh'. `intoSchema` implies 'into-schema'. */
  mode?: 'fresh' | 'replace' | 'data-only';
  /** data-only / into-schema: tables as `name` or `schema.name`. */
  tables?: string[];
  intoSchema?: string;
  /** data-only: also reload tables whose rows reference the chosen ones; replace: allow dropping outside dependents. */
  cascade?: boolean;
}

export interface ParallelRestoreOptions extends RestoreCommonOptions {
  /** Connections (2..16). */
  jobs: number;
  /** At most this many lock-table entries per transaction (default: the connection's share of the target's lock table, lock-budget.ts batchLockLimit). */
  maxBatchLocks?: number;
}

export interface RestorePlan {
  id: string;
  source: string;
  mode: RestoreMode;
  /** Target as `host:port/database` (no credentials). */
  target: string;
  backupStartedAt: string;
  backupMigration: string | null;
  /** Archive members that will be executed or loaded. */
  objects: number;
  tables: { schema: string; name: string; rows: number }[];
  rows: number;
  archiveBytes: number;
  /** What else happens, one line each (drops, cascades, FK handling). */
  actions: string[];
  /** What the operator must know before saying yes (e.g. the backup is unsigned). */
  warnings: string[];
}

export interface RestoreProgress {
  phase: 'loading' | 'verifying';
  bytesRead: number;
  totalBytes: number;
  rowsLoaded: number;
  totalRows: number;
  tablesDone: number;
  totalTables: number;
  /** The object being worked on. */
  current?: string;
}

export interface RestoredTable {
  schema: string;
  name: string;
  expectedRows: number;
  rows: number;
  /** Whether the re-read content matches the manifest's fingerprint; null when it was not re-read (no `checkContent`). */
  contentMatches: boolean | null;
}

/** What a restore proved about the data it loaded (said in its output, per mode). */
export interface RestoreChecks {
  /** Every archive member's SHA-256 matched the manifest (SQL before it ran, table data before COMMIT). */
  memberSha256: boolean;
  /** Every table's row count, as the server counted the rows it stored (COPY command tag), matched the manifest before COMMIT. */
  rowCounts: boolean;
  /** Every table was re-read after the load and its content fingerprint matched the manifest (`checkContent`). */
  content: boolean;
}

export interface RestoreResult {
  id: string;
  mode: RestoreMode;
  target: string;
  /** Always true when a restore resolves: the transaction(s) committed. */
  committed: true;
  plan: RestorePlan;
  tables: RestoredTable[];
  rows: number;
  durationMs: number;
  /** What was verified (a script restore without manifest: nothing). */
  checked: RestoreChecks;
  /** Rows this process converted to COPY BINARY (the rest went to the server as COPY text). */
  binaryRows?: number;
  /** What the restore could not reproduce and did not fail on (a materialized view left unpopulated), one line each. */
  warnings: string[];
}

/** A failed restore's error says whether the target was left untouched. */
export interface RestoreFailureDetails {
  rolledBack: boolean;
  phase: 'checks' | 'transaction';
}

/** A backup that passed preflight: its source and its checked manifest. */
export interface CheckedBackup {
  source: ArchiveSource;
  manifest: Manifest;
  /** Said with the plan: e.g. "unsigned: anyone who can write to the storage can change this backup". */
  warnings: string[];
}

/**
 * What one archive member does in a restore. SQL members run as they are (or rewritten/filtered by
 * the plan); table-data members are loaded with a COPY statement the loader BUILDS from `table`'s
 * validated name and columns (in `into` when given), never with SQL read from storage.
 */
export type MemberAction =
  | {
      kind: 'exec';
      rewrite?: (sql: string) => string;
      filter?: (client: pg.ClientBase, sql: string) => Promise<string>;
      /**
       * The member may not apply where this restore puts it (--into-schema: a CHECK or index passing
       * the whole row to a function that takes the LIVE table's row type): it runs in a savepoint,
       * and when the server cannot even resolve it (SQLSTATE class 42) it is rolled back to that
       * savepoint and this returns the restore's warning for the server's message instead of failing.
       */
      optional?: (message: string) => string;
    }
  | { kind: 'copy'; table: ManifestTable; into?: { schema: string; name: string } }
  | { kind: 'skip' };

/** What a planner hands the load loop: the plan shown to the operator and what to do around the load. */
export interface LoadPlan {
  plan: RestorePlan;
  /** The tables whose rows this restore loads and verifies. */
  tables: ManifestTable[];
  /** By entry index: what each member does. */
  actions: MemberAction[];
  /** Inside the transaction, before the first member: drops, locks, truncates. */
  prepare(client: pg.ClientBase): Promise<void>;
  /** After the last member, before the comparison with the manifest: foreign keys and triggers back. */
  finish(client: pg.ClientBase): Promise<void>;
  /** Where a table's rows are in the target when not at its own name (--into-schema). */
  locate(t: ManifestTable): { schema: string; name: string } | undefined;
}

/** What every planner gets: the checked backup, the connected target and the options. */
export interface PlanContext extends CheckedBackup {
  client: pg.ClientBase;
  /** `host:port/database` of the target. */
  target: string;
  opts: RestoreOptions;
  mode: RestoreMode;
}

/** Progress counters shared by the load loop and its callers. */
export interface LoadCounters {
  bytesRead: number;
  rowsLoaded: number;
  tablesDone: number;
  /** Rows sent as COPY BINARY (converted in this process; big tables' members). */
  binaryRows?: number;
}

/** Reads archive members for the load loop (one sequential stream, or one ranged read per member). */
/**
 * Reads a member's decompressed bytes. `gzChecked`: the reader checks the member's compressed bytes
 * against the manifest's gzSha256 before read() resolves, so the consumer need not hash them.
 */
export type MemberConsumer<T> = (out: import('node:stream').Readable, gzChecked?: boolean) => Promise<T>;

export interface MemberReader {
  /** Bytes of the archive read so far (for progress). */
  readonly position: number;
  /** Decompresses member `e` into `consume`. */
  read<T>(e: ManifestEntry, consume: MemberConsumer<T>): Promise<T>;
  /** Passes over member `e` without using it. */
  skip(e: ManifestEntry): Promise<void>;
  close(): Promise<void>;
}
