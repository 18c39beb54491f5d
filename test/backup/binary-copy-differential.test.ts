import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ManifestEntry, ManifestTable } from '../../lib/backup/manifest';
import { copyStatement } from '../../lib/backup/manifest';
import { copyMember } from '../../lib/backup/restore/load-member';
import { copyOutputSettingsSql } from '../../lib/backup/session-settings';
import { createTestDatabase, dropDatabase, urlFor, type TestDatabase } from '../helpers/db';

// The atomic restore's COPY BINARY path (binary-copy.ts, through copyMember) against the server's
// own COPY FROM text as the oracle: the same member loaded both ways into the same table must give
// the same stored values (compared as the server prints them AND as its binary form) or the same
// refusal (same SQLSTATE and message), with nothing left behind.

let db: TestDatabase;
let client: pg.Client;

type Outcome = { ok: true; rows: number; text: string; binary: string } | { ok: false; error: string };

async function copyOut(client: pg.Client, sql: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of client.query(copyTo(sql))) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The member text of `rows` (COPY text lines, each with its newline) for `table`. */
function member(table: ManifestTable, rows: Buffer, end = '\\.\n'): Buffer {
  return Buffer.concat([Buffer.from(`${copyStatement(table.schema, table.name, table.columns)}\n`), rows, Buffer.from(end)]);
}

/** Loads `rows` into public.t through copyMember (as the atomic restore does), in a transaction rolled back after. */
async function load(client: pg.Client, columns: string[], rows: Buffer, binary: boolean, step: number, end?: string): Promise<Outcome & { binaryRows: number }> {
  const table: ManifestTable = { schema: 'public', name: 't', rows: 0, columns, entries: [0], contentSha256: '' };
  const bytes = member(table, rows, end);
  const e = { index: 0, section: 'table-data', kind: 'TABLE DATA', schema: 'public', name: 't', offset: 0, length: 1, rawLength: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), copy: copyStatement('public', 't', columns) } as unknown as ManifestEntry;
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step) pieces.push(bytes.subarray(i, i + step));
  let binaryRows = 0;
  await client.query('BEGIN');
  await client.query(copyOutputSettingsSql(true));
  try {
    const n = await copyMember(client, Readable.from(pieces), e, table, { binary, freeze: false, onBinaryRows: (r) => (binaryRows = r) });
    const cols = columns.map((c) => `"${c}"`).join(', ');
    const text = (await copyOut(client, `COPY public.t (${cols}) TO STDOUT`)).toString('hex');
    const bin = (await copyOut(client, `COPY public.t (${cols}) TO STDOUT (FORMAT binary)`)).toString('hex');
    return { ok: true, rows: n, text, binary: bin, binaryRows };
  } catch (err) {
    const x = err as { code?: string; message: string };
    // (An invalid byte sequence is quoted up to the character's length: the text path's quote may
    // run on into the next field or line, the binary path's stops at the value's end.)
    const message = x.code === '22021' ? x.message.replace(/(: 0x[0-9a-f]{2})( 0x[0-9a-f]{2})*$/, '$1 ...') : x.message;
    return { ok: false, error: `${x.code ?? ''} ${message}`, binaryRows };
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * Loads `rows` into a fresh public.t (`ddl`: its column list) as text and as binary (whole and in
 * small pieces) and expects the same outcome; returns it with the rows the binary load converted.
 */
async function same(ddl: string, rows: string | Buffer, { columns, on = client, end }: { columns?: string[]; on?: pg.Client; end?: string } = {}): Promise<Outcome & { binaryRows: number }> {
  const client = on;
  await client.query(`DROP TABLE IF EXISTS public.t; CREATE TABLE public.t (${ddl})`);
  const cols = columns ?? (await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`)).rows.map((r) => r.attname);
  const buf = typeof rows === 'string' ? Buffer.from(rows) : rows;
  const { binaryRows: _t, ...text } = await load(client, cols, buf, false, 1 << 20, end);
  let first: (Outcome & { binaryRows: number }) | undefined;
  for (const step of [1 << 20, 7]) {
    const got = await load(client, cols, buf, true, step, end);
    const { binaryRows, ...outcome } = got;
    expect.soft(outcome, `${ddl}: ${JSON.stringify(buf.toString('latin1').slice(0, 80))} binary path (pieces of ${step} bytes, ${binaryRows} rows converted) vs text path`).toEqual(text);
    first ??= got;
  }
  return first!;
}

let latin1Name: string | undefined;
let latin1: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'bcd' });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  latin1Name = `${db.name}_latin1`;
  await client.query(`CREATE DATABASE "${latin1Name}" TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
  latin1 = new pg.Client({ connectionString: urlFor(latin1Name) });
  await latin1.connect();
});

afterAll(async () => {
  await client?.end();
  await latin1?.end();
  if (latin1Name) await dropDatabase(latin1Name);
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
    // Rounding to a typmod (after the value is taken, in both paths), either side of 2000-01-01 and in BC.
    for (const p of [0, 1, 3, 5, 6]) {
      for (const ty of [`timestamp(${p})`, `timestamptz(${p})`]) {
        const z = ty.startsWith('timestamptz') ? '+00' : '';
        const vals = ['2020-01-01 00:00:00.5', '2020-01-01 00:00:00.499999', '1999-12-31 23:59:59.999999', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.000005', '0044-03-15 12:00:00.55 BC', '2285-06-01 01:02:03.999995', '1714-06-01 01:02:03.45'];
        const rows = vals.map((v) => (v.endsWith(' BC') ? `${v.slice(0, -3)}${z} BC` : `${v}${z}`)).join('\n');
        expect((await same(`ts ${ty}`, `${rows}\n`)).binaryRows, ty).toBe(vals.length);
      }
    }
  });

  it('escapes, text values, integers, bool, inet, cidr, uuid: the same values or the same refusal', async () => {
    const texts = ['\\351', '\\xe9', '\\303\\251', '\\0', '\\x00', '\\xff', '\\xc3\\xa9', '\\377', '\\1', '\\x1', '\\x7f', '\\177', '\\400', '\\777', 'a\\', '\\\\', '\\x', '\\xg', '\\8', '\\N', 'a\\Nb', 'é', 'a\\.b', '\\.', 'ሀ', '\\u0000', 'x\\by\\fz\\n\\r\\t\\v\\a\\\\'];
    for (const ty of ['text', 'varchar', 'varchar(1)', 'json', 'jsonb']) {
      for (const v of texts) await same(`v ${ty}`, `${v}\n`);
      for (const v of ['"\\\\u0000"', '"a\\\\u0000b"', '{"a":1,"a":2}', ' {"a" : 1} ', '"\\\\ud800"', '"\\\\ud83c\\\\udfab"', '1e400', '-0', '"\\xe9"', 'abcde   ', 'ab  ']) await same(`v ${ty}`, `${v}\n`);
    }
    // What the converter does handle, it converts.
    expect((await same('v text, w varchar(3), j json, jb jsonb', 'a\\tb\\\\\\x41\\101\tab \t{"a": "\\\\u0000"}\t{"a": [1, 2.50]}\n')).binaryRows).toBe(1);
    for (const ty of ['int2', 'int4', 'int8']) {
      for (const v of ['-0', '0', '-', '', ' 1', '1 ', '+1', '01', '-01', '32767', '32768', '-32768', '-32769', '2147483647', '2147483648', '-2147483648', '-2147483649', '9999999999', '10000000000', '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '99999999999999999999', '1000000000000000', '999999999999999', '-999999999999999', '9007199254740993', '-9007199254740993', '1_000', '0x10', '1e3', '١']) await same(`v ${ty}`, `${v}\n`);
    }
    for (const v of ['t', 'f', 'true', 'T', '1', 'on', 'yes', ' t']) await same('v bool', `${v}\n`);
    for (const v of ['0.0.0.0', '0.0.0.0/0', '1.2.3.4/32', '1.2.3.4/33', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4/', '1.2.3.4/08', '::', '::/0', '::1', '::1/128', '::1/129', '::ffff:1.2.3.4', '::1.2.3.4', '::ffff:1.2.3.4/100', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', 'FE80::1', 'fe80::1%eth0', '1:2:3:4:5:6:1.2.3.4', '::ffff:0:0', '0:0:0:0:0:0:0:0', '00000::', '1:2:3:4:5:6:7:8/64', ':1:2:3:4:5:6:7', '::1.2.3', '::ffff:256.1.1.1', '1.2.3.4:5', '10.0.0.0/8', '::/128', '1::1.2.3.4', 'ffff::ffff:1.2.3.4']) await same('v inet', `${v}\n`);
    // cidr is another type (OID 650): sent as text.
    for (const v of ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.1/8', '::/0', '::1']) expect((await same('v cidr', `${v}\n`)).binaryRows).toBe(0);
    for (const v of ['00000000-0000-0000-0000-000000000000', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1', 'a0eebc999c0b4ef8bb6d6bb9bd380a11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g', 'a0eebc99+9c0b-4ef8-bb6d-6bb9bd380a11']) await same('v uuid', `${v}\n`);
  });

  it('numeric and bytea: typmod rounding and overflow, NaN, non-canonical forms: the same values or the same refusal', async () => {
    const nums = ['0', '0.00', '-1.5', '1.005', '1.015', '-1.005', '123.456', '999.995', '999.994', '1000', '99999.99', '100000', '0.0001', '0.00005', '-0.004', '-0.005',
      'NaN', 'Infinity', '-Infinity', '-0', '-0.00', '01', '1.', '.5', '1e5', '+1', 'nan', ' 1', '1 ', '12345678901234567890.12345678901234567890', `1${'0'.repeat(1000)}`, `0.${'0'.repeat(16382)}1`, `0.${'0'.repeat(16383)}1`];
    for (const ty of ['numeric', 'numeric(5,2)', 'numeric(3,0)', 'numeric(10,4)', 'numeric(2,-1)', 'numeric(3,5)']) {
      for (const v of nums) await same(`v ${ty}`, `${v}\n`);
    }
    // What the converter does handle, it converts (rounded by the typmod as numeric_in rounds).
    expect((await same('a numeric(5,2), b numeric, c numeric(2,-1)', '1.005\t-123.4500\t15\n0\t0.000\t\\N\nNaN\t12345678901234567890.5\t94\n')).binaryRows).toBe(3);
    for (const v of ['\\\\x', '\\\\x00ff', '\\\\xDEADbeef', '\\\\x0', '\\\\xzz', '\\\\x 00', '\\\\\\\\001abc', 'abc', '\\x41', '\\\\X41', '\\\\x0g']) await same('v bytea', `${v}\n`);
    expect((await same('v bytea, w bytea', '\\\\x\t\\\\x00ff10\n')).binaryRows).toBe(1);
  });

  it('every raw byte in a value: the same values or the same refusal', async () => {
    const ascii = [];
    for (let b = 1; b < 128; b++) if (![9, 10, 13, 92].includes(b)) ascii.push(Buffer.from([0x31, b, 0x32, 0x0a]));
    expect((await same('v text', Buffer.concat(ascii))).binaryRows).toBe(ascii.length);
    for (let b = 0x80; b < 256; b++) await same('v text', Buffer.from([0x31, b, 0x32, 0x0a]));
    for (const b of [0x0d, 0x01, 0x08, 0x20, 0x2d, 0x2e, 0x3a, 0x7f, 0x80, 0xc3, 0xff]) {
      for (const ty of ['text', 'jsonb', 'int4', 'uuid', 'inet', 'date']) await same(`v ${ty}`, Buffer.from([0x31, b, 0x32, 0x0a]));
    }
  });

  it('a LATIN1 database: the same values or the same refusal (escapes of non-ASCII bytes are the database encoding in COPY text)', async () => {
    // Before: '\\303\\251' stored 'é' by binary, 'Ã©' by text; '\\351' was refused by binary, 'é' by text.
    const texts = ['\\351', '\\xe9', '\\303\\251', '\\0', '\\xff', '\\x41', 'é', 'ሀ', 'ÿ', '€', '\\x80', 'a\\tb'];
    for (const ty of ['text', 'varchar(1)', 'varchar(2)', 'json', 'jsonb']) {
      for (const v of texts) await same(`v ${ty}`, `${v}\n`, { on: latin1 });
      for (const v of ['"é"', '"\\\\u00e9"', '"\\\\u1200"', '"\\\\u0000"', '"ሀ"']) await same(`v ${ty}`, `${v}\n`, { on: latin1 });
    }
    for (let b = 1; b < 256; b++) if (b !== 10) await same('v text', Buffer.from([0x31, b, 0x32, 0x0a]), { on: latin1 });
    for (let c = 0x80; c < 0x800; c += 7) await same('v text', Buffer.from(`1${String.fromCodePoint(c)}2\n`), { on: latin1 });
    expect((await same('v text', 'é\\tÿ\n', { on: latin1 })).binaryRows).toBe(1);
  });

  it('long values (past the 256 KiB output chunk, past the 1 MiB row limit) across piece boundaries', async () => {
    const esc = 'ሀ\\t\\\\\\n'.repeat(30_000); // ~300 KiB of text with escapes
    const huge = 'x\\\\'.repeat(600_000); // 1,8 MiB
    const json = `"${'ሀ\\\\t\\\\\\\\'.repeat(30_000)}"`; // "ሀ\t\\..." as JSON, ~300 KiB
    const r = await same('id int4, v text, j jsonb', `1\t${esc}\t{"a": 1}\n2\tshort\t\\N\n3\t${huge}\t${json}\n4\tafter\t${json}\n`);
    expect(r.ok).toBe(true);
    expect(r.binaryRows).toBe(2);
  });

  it('column lists: another order than the table, dropped and generated columns, 1 and 1,600 columns, hostile names', async () => {
    // COPY's column list in another order than attnum, a dropped column, a generated one (not in COPY).
    await client.query(`DROP TABLE IF EXISTS public.t; CREATE TABLE public.t (a int4, gone text, b text, c timestamptz, g int8 GENERATED ALWAYS AS (a * 2) STORED, d date)`);
    await client.query(`ALTER TABLE public.t DROP COLUMN gone`);
    const cols = ['d', 'c', 'b', 'a'];
    const rows = '2024-02-29\t2024-02-29 12:00:00+00\tx\t1\n\\N\t\\N\t\\N\t\\N\n0001-01-01 BC\tinfinity\t\\\\\t-7\n';
    const text = await load(client, cols, Buffer.from(rows), false, 1 << 20);
    const bin = await load(client, cols, Buffer.from(rows), true, 5);
    expect(bin.binaryRows).toBe(3);
    expect({ ...bin, binaryRows: 0 }).toEqual(text);
    expect(text.ok && Buffer.from(text.text, 'hex').toString()).toBe(rows);
    // One column; 1,600 columns.
    expect((await same('v int8', '1\n-9223372036854775808\n\\N\n')).binaryRows).toBe(3);
    const many = Array.from({ length: 1600 }, (_, k) => `c${k} ${k % 2 ? 'int4' : 'text'}`).join(', ');
    const line = Array.from({ length: 1600 }, (_, k) => (k % 3 === 0 ? '\\N' : k % 2 ? String(-k) : `v${k}\\t`)).join('\t');
    expect((await same(many, `${line}\n${line}\n`)).binaryRows).toBe(2);
    expect((await same(many, `${line}\t1\n`)).ok).toBe(false); // one field too many: the server's refusal
    expect((await same(many, `${line.slice(0, line.lastIndexOf('\t'))}\n`)).ok).toBe(false); // one too few
    // Names with quotes, a newline, Amharic.
    await client.query(`DROP TABLE IF EXISTS public.t; CREATE TABLE public.t ("we""ird
name" int4, "ስም" text, "a b" uuid)`);
    const hostile = ['we"ird\nname', 'ስም', 'a b'];
    const r = '1\tሰላም\t00000000-0000-0000-0000-00000000000a\n';
    const t2 = await load(client, hostile, Buffer.from(r), false, 1 << 20);
    const b2 = await load(client, hostile, Buffer.from(r), true, 3);
    expect(b2.binaryRows).toBe(1);
    expect({ ...b2, binaryRows: 0 }).toEqual(t2);
  });

  it('tampered members (field counts, \\. inside a row, data after the terminator, CR): the same refusal as the text path', async () => {
    const good = Array.from({ length: 50 }, (_, k) => `${k}\tname ${k}\t2025-01-01 00:00:00+00\n`).join('');
    const ddl = 'id int4, name text, at timestamptz';
    for (const bad of ['1\tx\n', '1\tx\t\\N\t\\N\n', '1\tx\t\\N\t\n', '\t\t\n', '\n', '1\tx\\.\n', '1\tx\t\\.\n', '\\.\n', '1\tx\t\\N\r\n', '1\tx\r\t\\N\n', '1\tx\t2025-01-01 00:00:00+00\\\n']) {
      const r = await same(ddl, good + bad + good);
      expect(r.ok, bad).toBe(false);
    }
    for (const end of ['\\.\nSELECT 1;\n', '\\.\n\\.\n', '\\.', '', '\\.\r\n', 'x\\.\n']) expect((await same(ddl, good, { end })).ok, end).toBe(false);
    // An escaped tab is data (the rest goes as text); an escaped newline continues the line.
    expect((await same(ddl, `${good}1\t\\\tx\t\\N\n${good}`)).ok).toBe(true);
    expect((await same(ddl, `${good}1\tx\\\ny\t\\N\n${good}`)).ok).toBe(true);
    const r = await same(ddl, good + good);
    expect(r.ok && r.rows).toBe(100);
    expect(r.binaryRows).toBe(100);
  });
});
