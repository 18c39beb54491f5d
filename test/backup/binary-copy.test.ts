import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { binaryColumnKinds, TextToBinary } from '../../lib/backup/restore/binary-copy';
import { copyOutputSettingsSql } from '../../lib/backup/session-settings';
import { createTestDatabase } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// The atomic restore converts COPY text to COPY BINARY in our process (binary-copy.ts). The oracle
// is the server itself: for edge and random values of every type the converter handles, the text
// the server prints under the backup's output settings, converted by us, must be byte for byte the
// binary the server prints for the same rows — and the converter must not give up on any of them.

let db: TestDatabase;
let client: pg.Client;

const COLUMNS = ['b', 'i2', 'i4', 'i8', 't', 'vc', 'j', 'jb', 'u', 'd', 'ts', 'tstz', 'ts3', 'ip', 'n', 'n2', 'by'];

async function copyOut(sql: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of client.query(copyTo(sql))) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Splits COPY BINARY data (no header/trailer) into rows. */
function binaryRows(b: Buffer): Buffer[] {
  const rows: Buffer[] = [];
  let p = 0;
  while (p < b.length) {
    const start = p;
    const n = b.readInt16BE(p);
    p += 2;
    for (let i = 0; i < n; i++) {
      const len = b.readInt32BE(p);
      p += 4 + Math.max(len, 0);
    }
    rows.push(b.subarray(start, p));
  }
  return rows;
}

type Kinds = NonNullable<Awaited<ReturnType<typeof binaryColumnKinds>>>;

/** Converts `text` fed in pieces of `step` bytes. */
function convert(kinds: Kinds, text: Buffer, step: number): { out: Buffer; conv: TextToBinary } {
  const conv = new TextToBinary(kinds);
  const out: Buffer[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...conv.push(text.subarray(i, Math.min(text.length, i + step))));
  conv.end();
  return { out: Buffer.concat(out), conv };
}

async function compareTable(table: string): Promise<{ rows: number }> {
  const kinds = await binaryColumnKinds(client, 'public', table, COLUMNS);
  expect(kinds).not.toBeNull();
  const cols = COLUMNS.map((c) => `"${c}"`).join(', ');
  const text = await copyOut(`COPY public.${table} (${cols}) TO STDOUT`);
  const bin = await copyOut(`COPY public.${table} (${cols}) TO STDOUT (FORMAT binary)`);
  const expected = bin.subarray(19, bin.length - 2);
  const lines = text.toString('utf8').split('\n').slice(0, -1);
  for (const step of [text.length, 65536, 4099, 7]) {
    const { out, conv } = convert(kinds!, text, step);
    if (conv.stopped) throw new Error(`the converter gave up at: ${JSON.stringify(Buffer.concat(conv.rest).toString('utf8').split('\n')[0])}`);
    if (!out.equals(expected)) {
      const a = binaryRows(out);
      const e = binaryRows(expected);
      const i = e.findIndex((r, k) => !a[k] || !r.equals(a[k]));
      throw new Error(`row ${i} differs: text ${JSON.stringify(lines[i])}\n ours   ${a[i]?.toString('hex')}\n server ${e[i]?.toString('hex')}`);
    }
    expect(conv.rows).toBe(lines.length);
  }
  return { rows: lines.length };
}

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'binary_copy' });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(copyOutputSettingsSql());
  await client.query(`CREATE TABLE public.v (b bool, i2 int2, i4 int4, i8 int8, t text, vc varchar(30), j json, jb jsonb, u uuid, d date,
    ts timestamp, tstz timestamptz, ts3 timestamptz(3), ip inet, n numeric, n2 numeric(12, 2), by bytea)`);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('COPY text → COPY BINARY in our process (the atomic restore)', () => {
  it('matches the server byte for byte on edge values of every type, and never gives up on them', async () => {
    await client.query(`INSERT INTO v VALUES
      (true, -32768, -2147483648, -9223372036854775808, '', '', '{}', '{}', '00000000-0000-0000-0000-000000000000', '4713-01-01 BC',
       '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '0044-03-15 12:34:56.789+00 BC', '0.0.0.0/0'),
      (false, 32767, 2147483647, 9223372036854775807, E'tab\\there\\nnew\\\\back\\rcr\\bbs\\ffeed\\vvt', 'ሰላም ዓለም', '{"a": "x\\ny", "b": [1, 2.50, null]}',
       '{"k": "line\\nbreak \\"q\\" \\\\ back", "ሀ": [true, false, null, 1e400]}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '5874897-12-31',
       '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '1999-12-31 23:59:59.999+00', '255.255.255.255'),
      (NULL, 0, 0, 0, E'\\\\N', E'\\\\.', 'null', 'null', 'c4ca4238-a0b9-2382-0dcc-509a6f75849b', '0001-01-01 BC',
       '0001-12-31 23:59:59.5 BC', '0001-01-01 00:00:00+00', '1970-01-01 00:00:00+00', '10.1.2.3/24'),
      (true, -1, -1, -1, E'x\\\\.y \\\\ ends with a backslash \\\\', 'a', '"ሀ"', '"ሀ"', NULL, '0001-01-01',
       '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00', '2000-01-01 00:00:00+00', '::1'),
      (false, 1, 1, 999999999999999, E'\\x01\\x02\\x03\\x1f\\x7f control', ' leading and trailing  ', '[]', '[]', NULL, '1999-12-31',
       '2000-01-01 00:00:00', '2000-01-01 00:00:00+00', '2000-01-01 00:00:00.001+00', '::'),
      (true, 10, 100, 1000000000000000, repeat(E'long \\\\ \\t ሰ ', 3000), NULL, NULL, NULL, NULL, '2000-01-01',
       '2000-02-29 12:00:00', '2025-06-01 12:00:00+03', '2025-06-01 12:00:00.12345+03', '::/0'),
      (NULL, NULL, NULL, -999999999999999, 'emoji 🎫🚌', NULL, NULL, NULL, NULL, '2000-02-29',
       '1900-03-01 00:00:00', '1900-03-01 00:00:00-05:30', NULL, '2001:db8::1/64'),
      (NULL, NULL, NULL, -1000000000000000, NULL, NULL, NULL, NULL, NULL, '1900-02-28',
       '2285-06-01 01:02:03.000001', '2285-06-01 01:02:03.000001+00', NULL, '::ffff:1.2.3.4'),
      (NULL, NULL, NULL, 4611686018427387904, NULL, NULL, NULL, NULL, NULL, '1582-10-04',
       '1714-06-01 01:02:03.000001', '1714-06-01 01:02:03.000001+00', NULL, '::1.2.3.4'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity',
       'infinity', 'infinity', 'infinity', 'fe80::1:2:3:4'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-infinity',
       '-infinity', '-infinity', '-infinity', '1:2:3:4:5:6:7:8'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '10000-01-01',
       '10000-01-01 00:00:00', '10000-01-01 00:00:00+00', NULL, '1:0:0:2::3'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-29',
       '2024-02-29 23:59:59', '2024-02-29 23:59:59+00', NULL, '1::'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '::ffff:0:0'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '1:2:3:4:5:6:1.2.3.4'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '1:0:2:0:0:3:0:4'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0:0:1::'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '10.0.0.1/8')`);
    // numeric: zeros with and without a scale, leading and trailing zero groups, every group
    // alignment, 1,000-digit values, the typmod's extremes, NaN; bytea: empty, NUL, every byte.
    await client.query(`INSERT INTO v (n, n2, by) VALUES
      (0, 0, ''), (0.00, 0.5, '\\x00'), ('0.000000000000', -0.01, '\\xdeadbeef'), (-1.5, 9999999999.99, '\\x0a5c09'),
      (12345678.9, -9999999999.99, '\\x7f80ff'), (0.0001, 100, NULL), (0.00001, 0.10, NULL), (10000, 1, NULL), (100000000, 10.00, NULL),
      (1.0001, NULL, NULL), (-0.000000000000000000001, NULL, NULL), (('1' || repeat('0', 999))::numeric, NULL, NULL),
      (('0.' || repeat('0', 998) || '1')::numeric, NULL, NULL), (('-' || repeat('9', 500) || '.' || repeat('9', 500))::numeric, NULL, NULL),
      (123456789012345678901234567890.123456789012345678901234567890, NULL, NULL), ('NaN', 'NaN', NULL), (1e-16383, NULL, NULL),
      (1000.0000, NULL, NULL), (99990000.00009999, NULL, NULL), (5e20, NULL, NULL), (-7, NULL, NULL), (0.1, NULL, NULL)`);
    await client.query(`INSERT INTO v (by) SELECT decode(string_agg(lpad(to_hex(g), 2, '0'), ''), 'hex') FROM generate_series(0, 255) g`);
    // Every control character and byte that COPY escapes, one per row.
    await client.query(`INSERT INTO v (t, vc, jb) SELECT 'c' || chr(g) || 'x\\y', chr(g), jsonb_build_object('c', chr(g)) FROM generate_series(1, 127) g`);
    const { rows } = await compareTable('v');
    expect(rows).toBe(19 + 22 + 1 + 127);
  });

  it('matches the server byte for byte on 20,000 random rows', async () => {
    await client.query(`CREATE TABLE public.r (LIKE public.v)`);
    await client.query(`SELECT setseed(0.42)`);
    await client.query(`INSERT INTO r
      SELECT CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.5 END,
             (random() * 65535 - 32768)::int2, (random() * 4294967295 - 2147483648)::int4,
             CASE WHEN random() < 0.5 THEN (random() * 1e6)::int8 ELSE ((random() - 0.5) * 1.8e19)::numeric::int8 END,
             (SELECT string_agg(chr((ARRAY[9, 10, 13, 92, 8, 12, 11, 32, 65, 97, 4608, 128640, 1, 31, 127, 160])[1 + (random() * 15)::int]), '') FROM generate_series(1, (random() * 20)::int + g % 2)),
             substr(md5(g::text), 1, (random() * 30)::int),
             json_build_object('n', random(), 's', md5(g::text) || chr(10)),
             jsonb_build_object('n', (random() * 1e6)::numeric(12, 2), 'a', jsonb_build_array(g, md5(g::text), random() < 0.5)),
             gen_random_uuid(),
             date '2000-01-01' + (random() * 1e8 - 2.4e6)::int,
             timestamp '2000-01-01' + (random() * 290000 - 6500) * interval '1 year' + random() * interval '1 day',
             timestamptz '2000-01-01 00:00:00+00' + (random() * 20000 - 6500) * interval '1 year' + (random() * 86400e6)::int8 * interval '1 microsecond',
             now() + (random() - 0.5) * interval '1000 years',
             CASE WHEN random() < 0.5
               THEN set_masklen(((random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int)::inet, (random() * 32)::int)
               ELSE set_masklen((SELECT string_agg(CASE WHEN random() < 0.4 THEN '0' ELSE to_hex((random() * 65535)::int) END, ':') FROM generate_series(1, 8 + g * 0))::inet, (random() * 128)::int) END
        FROM generate_series(1, 20000) g`);
    await client.query(`UPDATE r SET
      n = CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.3 THEN round((random() - 0.5)::numeric * power(10::numeric, (random() * 40 - 20)::int), (random() * 30)::int)
               WHEN random() < 0.5 THEN (random() * 1e6)::int ELSE (random() - 0.5)::numeric * power(10::numeric, (random() * 30)::int) END,
      n2 = CASE WHEN random() < 0.1 THEN NULL ELSE round((random() - 0.5)::numeric * power(10::numeric, (random() * 10)::int), 2) END,
      by = CASE WHEN random() < 0.1 THEN NULL ELSE decode(repeat(md5(random()::text), (random() * 4)::int), 'hex') END`);
    const { rows } = await compareTable('r');
    expect(rows).toBe(20000);
  });

  it('says which tables it converts: only when every column has a type it handles', async () => {
    await client.query(`CREATE DOMAIN public.d_int AS int CHECK (VALUE > 0); CREATE TYPE public.mood AS ENUM ('ok');
      CREATE TABLE public.mixed (a int, n interval, m public.mood, di public.d_int, f float8, arr int[], num numeric(5, 1), by bytea)`);
    expect(await binaryColumnKinds(client, 'public', 'v', COLUMNS)).toHaveLength(COLUMNS.length);
    for (const c of ['n', 'm', 'di', 'f', 'arr']) expect(await binaryColumnKinds(client, 'public', 'mixed', ['a', c])).toBeNull();
    expect(await binaryColumnKinds(client, 'public', 'mixed', ['a'])).toEqual(['int4']);
    expect(await binaryColumnKinds(client, 'public', 'mixed', ['a', 'num', 'by'])).toEqual(['int4', 'numeric', 'bytea']);
    expect(await binaryColumnKinds(client, 'public', 'mixed', ['nope'])).toBeNull();
  });

  it('never overruns its output buffer: rows whose binary form is far longer than their text', () => {
    // '1' is 2 bytes of text and 12 of binary (int8); '::' is 3 and 24 (inet).
    for (const [kind, text, value] of [['int8', '1', '0000000000000001'], ['inet', '::', '0380001000000000000000000000000000000000'], ['uuid', '00000000-0000-0000-0000-000000000000', '0'.repeat(32)]] as const) {
      const kinds = new Array(60).fill(kind);
      const line = `${new Array(60).fill(text).join('\t')}\n`;
      const input = Buffer.from(line.repeat(5000));
      for (const step of [input.length, 262144, 65536, 1000]) {
        const { out, conv } = convert(kinds, input, step);
        expect(conv.stopped).toBe(false);
        const rows = binaryRows(out);
        expect(rows).toHaveLength(5000);
        const fieldLen = value.length / 2;
        const expected = Buffer.concat([Buffer.from([0, 60]), ...new Array(60).fill(Buffer.concat([Buffer.from([0, 0, 0, fieldLen]), Buffer.from(value, 'hex')]))]);
        for (const r of rows) expect(r.equals(expected)).toBe(true);
      }
    }
  });

  it('stops at the first line it cannot convert and hands that line and everything after it back as text', () => {
    const kinds = ['int4', 'text', 'timestamptz'] as const;
    const ok1 = '1\ta\t2025-01-01 00:00:00+00\n';
    const ok2 = '2\tb\t\\N\n';
    const odd = [' 3\tc\t\\N\n', '3\tc\t2025-01-01 00:00:00+03\n', '3\tc\n', '3\tc\td\te\n', '3\tc\\.\t\\N\n', '3\tc\\Nx\t\\N\n', '+3\tc\t\\N\n', '03\tc\t\\N\n', '3\tc\t2025-02-30 00:00:00+00\n', '3\tc\t2025-01-01 00:00:00.500000+00\n'];
    for (const bad of odd) {
      const text = Buffer.from(ok1 + ok2 + bad + ok1);
      for (const step of [text.length, 5, 1]) {
        const { out, conv } = convert([...kinds], text, step);
        expect(conv.stopped, bad).toBe(true);
        expect(conv.rows).toBe(2);
        expect(Buffer.concat(conv.rest).toString('utf8')).toBe(bad + ok1);
        expect(binaryRows(out)).toHaveLength(2);
      }
    }
    // numeric and bytea in forms PostgreSQL does not print (or Infinity, left to the server).
    const nb = ['numeric', 'bytea'] as const;
    const okNb = '1.50\t\\\\x00ff\n';
    for (const bad of ['-0\t\\N\n', '-0.00\t\\N\n', '01\t\\N\n', '1.\t\\N\n', '.5\t\\N\n', '1e5\t\\N\n', 'Infinity\t\\N\n', '-Infinity\t\\N\n', '+1\t\\N\n', 'nan\t\\N\n',
      '1\t\\\\x0\n', '1\t\\\\xzz\n', '1\t\\\\\\\\001\n', '1\tabc\n', '1\t\\x41\n', '1\t\\\\X41\n']) {
      const text = Buffer.from(okNb + bad + okNb);
      for (const step of [text.length, 3, 1]) {
        const { out, conv } = convert([...nb], text, step);
        expect(conv.stopped, bad).toBe(true);
        expect(conv.rows, bad).toBe(1);
        expect(Buffer.concat(conv.rest).toString('utf8')).toBe(bad + okNb);
        expect(binaryRows(out)).toHaveLength(1);
      }
    }
    // A last line without its newline is not a row.
    const { conv } = convert([...kinds], Buffer.from(ok1 + '4\tx'), 3);
    expect(conv.rows).toBe(1);
    expect(conv.stopped).toBe(true);
    expect(Buffer.concat(conv.rest).toString()).toBe('4\tx');
  });

  it('a row of 32 MiB arriving in 16 KiB pieces (as gunzip gives them) goes as text, in linear time', () => {
    // Before: the partial line was re-concatenated on every piece (quadratic: 10 s of CPU for one
    // 20 MB value, ~17 min for 200 MB) and the whole row was then held three times (carry, joined
    // line, output buffer). A row longer than 1 MiB of text now stops the conversion there.
    const kinds = ['int4', 'text'] as const;
    const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
    const text = Buffer.concat([Buffer.from('1\tsmall\n'), Buffer.from('2\t'), big, Buffer.from('\n3\tafter\n')]);
    const cpu = process.cpuUsage();
    const conv = new TextToBinary([...kinds]);
    const out: Buffer[] = [];
    for (let i = 0; i < text.length; i += 16384) out.push(...conv.push(text.subarray(i, i + 16384)));
    conv.end();
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1e6).toBeLessThan(2);
    expect(conv.rows).toBe(1);
    expect(conv.stopped).toBe(true);
    expect(Buffer.concat(conv.rest).equals(text.subarray('1\tsmall\n'.length))).toBe(true);
    expect(binaryRows(Buffer.concat(out))).toHaveLength(1);
    // Whole lines of any length inside one piece: the same rule.
    const whole = convert([...kinds], text, text.length);
    expect(whole.conv.rows).toBe(1);
    expect(Buffer.concat(whole.conv.rest).equals(text.subarray('1\tsmall\n'.length))).toBe(true);
    // Just under the limit: converted.
    const fits = Buffer.concat([Buffer.from('2\t'), Buffer.alloc((1 << 20) - 3, 0x62), Buffer.from('\n')]);
    expect(fits.length).toBe(1 << 20);
    const ok = convert([...kinds], fits, 16384);
    expect(ok.conv.stopped).toBe(false);
    expect(ok.conv.rows).toBe(1);
  });
});
