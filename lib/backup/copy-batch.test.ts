import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type BatchEvent, CopyBatchQuery } from './copy-batch';

// The protocol parser of a batch of COPY TO statements, fed the server's reply cut at every byte
// (a socket read can end anywhere, also inside a 5-byte message header). The end-to-end behaviour
// against a real server is test/backup/copy-batch.test.ts.

const msg = (code: string, body: Buffer | string = Buffer.alloc(0)) => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const h = Buffer.alloc(5);
  h.write(code, 0, 'latin1');
  h.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
};
const copyOut = msg('H', Buffer.from([0, 0, 0]));
const reply = (tables: string[][], opts: { notice?: boolean } = {}) =>
  Buffer.concat([
    ...tables.flatMap((rows, i) => [
      copyOut,
      ...rows.map((r, k) => (opts.notice && k === 0 ? Buffer.concat([msg('N', 'Snotice\0\0'), msg('d', r)]) : msg('d', r))),
      msg('c'),
      msg('C', `COPY ${rows.length}\0`),
      ...(i === tables.length - 1 ? [msg('Z', 'T')] : []),
    ]),
  ]);

/** Runs the parser over `bytes` cut into pieces of `step` bytes; what it emitted and what it handed back to pg. */
async function run(statements: number, bytes: Buffer, step: number): Promise<{ tables: string[]; handedBack: Buffer }> {
  const stream = new PassThrough();
  const handedBack: Buffer[] = [];
  stream.on('data', (b: Buffer) => handedBack.push(b));
  const q = new CopyBatchQuery(Array.from({ length: statements }, (_, i) => `COPY t${i} TO STDOUT`));
  q.submit({ stream: stream as unknown as import('node:net').Socket, query: () => {} });
  const pieces: Buffer[][] = Array.from({ length: statements }, () => []);
  const done = (async () => {
    let ended = 0;
    for await (const ev of q as AsyncIterable<BatchEvent>) {
      if ('end' in ev) {
        expect(ev.table).toBe(ended++);
      } else pieces[ev.table].push(ev.data);
    }
    expect(ended).toBe(statements);
  })();
  for (let i = 0; i < bytes.length; i += step) {
    stream.write(bytes.subarray(i, i + step));
    await new Promise((r) => setImmediate(r));
  }
  await done;
  await new Promise((r) => setImmediate(r));
  return { tables: pieces.map((p) => Buffer.concat(p).toString()), handedBack: Buffer.concat(handedBack) };
}

describe('CopyBatchQuery', () => {
  const tables = [['1\ta\n', '2\tb\n'], [], ['x\\ty\n'], ['ሰላም\n']];
  const bytes = reply(tables, { notice: true });
  const tail = Buffer.concat([msg('C', 'COPY 1\0'), msg('Z', 'T')]);

  it('splits every statement’s data exactly, wherever the socket reads end, and hands pg the rest', async () => {
    for (const step of [1, 2, 3, 4, 5, 6, 7, 11, 64, bytes.length]) {
      const r = await run(tables.length, bytes, step);
      expect(r.tables, `step ${step}`).toEqual(tables.map((rows) => rows.join('')));
      // pg sees the last CommandComplete and the ReadyForQuery, nothing of the COPY data.
      expect(r.handedBack.equals(tail), `step ${step}`).toBe(true);
    }
  });

  it('an ErrorResponse is left to pg, from its first byte', async () => {
    const err = msg('E', 'SERROR\0Mboom\0\0');
    const bytes2 = Buffer.concat([copyOut, msg('d', '1\n'), msg('c'), msg('C', 'COPY 1\0'), err, msg('Z', 'E')]);
    for (const step of [1, 3, bytes2.length]) {
      const stream = new PassThrough();
      const handedBack: Buffer[] = [];
      stream.on('data', (b: Buffer) => handedBack.push(b));
      const q = new CopyBatchQuery(['COPY a TO STDOUT', 'COPY b TO STDOUT']);
      q.submit({ stream: stream as unknown as import('node:net').Socket, query: () => {} });
      const data: Buffer[] = [];
      const ends: number[] = [];
      q.on('data', (e: BatchEvent) => ('end' in e ? ends.push(e.table) : data.push(e.data)));
      for (let i = 0; i < bytes2.length; i += step) {
        stream.write(bytes2.subarray(i, i + step));
        await new Promise((r) => setImmediate(r));
      }
      expect(Buffer.concat(handedBack).equals(Buffer.concat([err, msg('Z', 'E')])), `step ${step}`).toBe(true);
      expect(Buffer.concat(data).toString()).toBe('1\n');
      expect(ends).toEqual([0]);
      expect(q.failedStatement).toBe(1);
      q.destroy();
    }
  });

  it('refuses a connection it cannot take over (not exactly one data listener)', () => {
    const stream = new EventEmitter() as unknown as import('node:net').Socket;
    expect(() => new CopyBatchQuery(['COPY a TO STDOUT']).submit({ stream, query: () => {} })).toThrow(/one data listener/);
  });
});
