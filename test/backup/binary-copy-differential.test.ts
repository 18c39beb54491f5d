import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ManifestEntry, ManifestTable } from '../../lib/backup/manifest';
import { copyStatement } from '../../lib/backup/manifest';
import { copyMember } from '../../lib/backup/restore/load-member';
import { copyOutputSettingsSql } from '../../lib/backup/session-settings';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

// The atomic restore's COPY BINARY path (binary-copy.ts, through copyMember) against the server's
// own COPY FROM text as the oracle: the same member loaded both ways into the same table must give
// the same stored values (compared as the server prints them AND as its binary form) or the same
// refusal (same SQLSTATE and message), with nothing left behind.

let db: TestDatabase;
let client: pg.Client;

type Outcome = { ok: true; rows: number; text: string; binary: string } | { ok: false; error: string };

async function copyOut(sql: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of client.query(copyTo(sql))) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The member text of `rows` (COPY text lines, each with its newline) for `table`. */
function member(table: ManifestTable, rows: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${copyStatement(table.schema, table.name, table.columns)}\n`), rows, Buffer.from('\\.\n')]);
}

/** Loads `rows` into public.t through copyMember (as the atomic restore does), in a transaction rolled back after. */
async function load(columns: string[], rows: Buffer, binary: boolean, step: number): Promise<Outcome & { binaryRows: number }> {
  const table: ManifestTable = { schema: 'public', name: 't', rows: 0, columns, entries: [0], contentSha256: '' };
  const bytes = member(table, rows);
  const e = { index: 0, section: 'table-data', kind: 'TABLE DATA', schema: 'public', name: 't', offset: 0, length: 1, rawLength: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), copy: copyStatement('public', 't', columns) } as unknown as ManifestEntry;
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step) pieces.push(bytes.subarray(i, i + step));
  let binaryRows = 0;
  await client.query('BEGIN');
  await client.query(copyOutputSettingsSql(true));
  try {
    const n = await copyMember(client, Readable.from(pieces), e, table, { binary, freeze: false, onBinaryRows: (r) => (binaryRows = r) });
    const cols = columns.map((c) => `"${c}"`).join(', ');
    const text = (await copyOut(`COPY public.t (${cols}) TO STDOUT`)).toString('hex');
    const bin = (await copyOut(`COPY public.t (${cols}) TO STDOUT (FORMAT binary)`)).toString('hex');
    return { ok: true, rows: n, text, binary: bin, binaryRows };
  } catch (err) {
    const x = err as { code?: string; message: string };
    return { ok: false, error: `${x.code ?? ''} ${x.message}`, binaryRows };
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * Loads `rows` into a fresh public.t (`ddl`: its column list) as text and as binary (whole and in
 * small pieces) and expects the same outcome; returns it with the rows the binary load converted.
 */
async function same(ddl: string, rows: string | Buffer, columns?: string[]): Promise<Outcome & { binaryRows: number }> {
  await client.query(`DROP TABLE IF EXISTS public.t; CREATE TABLE public.t (${ddl})`);
  const cols = columns ?? (await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`)).rows.map((r) => r.attname);
  const buf = typeof rows === 'string' ? Buffer.from(rows) : rows;
  const { binaryRows: _t, ...text } = await load(cols, buf, false, 1 << 20);
  let first: (Outcome & { binaryRows: number }) | undefined;
  for (const step of [1 << 20, 7]) {
    const got = await load(cols, buf, true, step);
    const { binaryRows, ...outcome } = got;
    expect.soft(outcome, `${ddl}: ${JSON.stringify(buf.toString('latin1').slice(0, 80))} binary path (pieces of ${step} bytes, ${binaryRows} rows converted) vs text path`).toEqual(text);
    first ??= got;
  }
  return first!;
}

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'bcd' });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('COPY BINARY conversion vs the server parsing the same text', () => {
  it('dates and timestamps outside what PostgreSQL stores: the same refusal, never another value', async () => {
    // Out of range (the 32/64-bit words would wrap around: '9999999-01-01 BC' became a date in
    // 1,7 million AD, '5881610-07-11' infinity, '584555-06-01 00:00:00' some timestamp).
    for (const v of ['5874898-01-01', '5881610-07-11', '5881610-07-12', '9999999-12-31', '4714-11-23 BC', '9999999-01-01 BC', '5877000-01-01 BC']) {
      expect((await same('d date', `${v}\n`)).ok, v).toBe(false);
    }
    for (const v of ['5874897-12-31', '4714-11-24 BC']) expect((await same('d date', `${v}\n`)).binaryRows, v).toBe(1);
    for (const ty of ['timestamp', 'timestamptz', 'timestamp(0)', 'timestamptz(3)']) {
      const z = ty.startsWith('timestamptz') ? '+00' : '';
      for (const v of ['294277-01-01 00:00:00', '300000-01-01 00:00:00', '584554-01-01 00:00:00', '584555-06-01 00:00:00', '1000000-01-01 00:00:00', '9999999-12-31 23:59:59']) {
        expect((await same(`ts ${ty}`, `${v}${z}\n`)).ok, v).toBe(false);
      }
      for (const v of ['4714-11-23 23:59:59.999999', '9999999-01-01 00:00:00']) expect((await same(`ts ${ty}`, `${v}${z} BC\n`)).ok, v).toBe(false);
      // The extremes it stores are converted (and, rounded by a typmod, give what the text gives).
      for (const v of ['294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.5', '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00.000001 BC', '0001-02-29 12:00:00 BC', '0005-02-29 23:59:59.999999 BC']) {
        const bc = v.endsWith(' BC');
        expect((await same(`ts ${ty}`, `${bc ? v.slice(0, -3) : v}${z}${bc ? ' BC' : ''}\n`)).binaryRows, v).toBe(1);
      }
    }
  });
});
