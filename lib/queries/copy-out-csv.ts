import { Readable } from 'node:stream';
import type pg from 'pg';
import { ChunkWriter, CsvRowRewriter } from './csv-cell-rewriter';

// Backend message types seen during COPY TO STDOUT (PostgreSQL protocol, "COPY Operations").
const COPY_OUT_RESPONSE = 0x48; // H
const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const NOTICE = 0x4e; // N
const PARAMETER_STATUS = 0x53; // S
const NOTIFICATION = 0x41; // A

/** Size of the chunks the export stream hands on (rows are gathered into them). */
export const EXPORT_CHUNK_BYTES = 512 * 1024;

/**
 * Splits the bytes of a COPY TO STDOUT exchange into its CopyData messages. PostgreSQL sends
 * exactly one CopyData message per row ("zero or more CopyData messages, always one per row"),
 * so each `onRow(src, s, end)` is one whole row, header first. Messages may be cut anywhere
 * between two push() calls; a row cut in two is put together in its own buffer.
 */
export class CopyOutParser {
  private readonly onRow: (src: Buffer, s: number, end: number) => void;
  /** A message header (type + length) cut by a chunk boundary: its first `headHave` bytes. */
  private readonly head = Buffer.alloc(5);
  private headHave = 0;
  /** A message body cut by a chunk boundary: its type, length, bytes so far (CopyData only). */
  private code = 0;
  private need = -1;
  private have = 0;
  private body: Buffer | null = null;

  constructor(onRow: (src: Buffer, s: number, end: number) => void) {
    this.onRow = onRow;
  }

  /**
   * Takes the next bytes from the server. Returns -1 while the COPY goes on; otherwise the offset
   * in `chunk` where the bytes that are not COPY data start (after CopyDone, or the ErrorResponse
   * or other message that ended it), which belong to the regular protocol handler.
   */
  push(chunk: Buffer): number {
    const n = chunk.length;
    let p = 0;
    if (this.headHave > 0) {
      // The rest of a header cut by the previous chunk (its type byte was checked then).
      const k = Math.min(5 - this.headHave, n);
      chunk.copy(this.head, this.headHave, 0, k);
      this.headHave += k;
      p = k;
      if (this.headHave < 5) return -1;
      this.headHave = 0;
      this.startBody(this.head[0], this.head.readUInt32BE(1) - 4);
    }
    if (this.need >= 0) {
      // The rest of a body cut by a chunk boundary.
      const k = Math.min(this.need - this.have, n - p);
      if (this.body) chunk.copy(this.body, this.have, p, p + k);
      this.have += k;
      p += k;
      if (this.have < this.need) return -1;
      this.need = -1;
      const body = this.body;
      this.body = null;
      if (body) this.onRow(body, 0, body.length);
      if (this.code === COPY_DONE) return p;
    }
    while (p < n) {
      const code = chunk[p];
      if (!isCopyMessage(code)) return p;
      if (n - p < 5) {
        chunk.copy(this.head, 0, p, n);
        this.headHave = n - p;
        return -1;
      }
      const len = chunk.readUInt32BE(p + 1) - 4;
      p += 5;
      if (n - p < len) {
        this.startBody(code, len);
        this.have = n - p;
        if (this.body) chunk.copy(this.body, 0, p, n);
        return -1;
      }
      if (code === COPY_DATA) this.onRow(chunk, p, p + len);
      p += len;
      if (code === COPY_DONE) return p;
    }
    return -1;
  }

  private startBody(code: number, len: number): void {
    this.code = code;
    this.need = len;
    this.have = 0;
    this.body = code === COPY_DATA ? Buffer.allocUnsafe(len) : null;
  }
}

/** Messages that belong to the COPY (or may come in between: notices, parameter changes, notifications). */
function isCopyMessage(code: number): boolean {
  return code === COPY_DATA || code === COPY_DONE || code === COPY_OUT_RESPONSE || code === NOTICE || code === PARAMETER_STATUS || code === NOTIFICATION;
}

/** The socket side of pg's Connection (not in its type declarations). */
interface PgConnection {
  stream: NodeJS.ReadableStream & { listeners(event: 'data'): ((chunk: Buffer) => void)[] };
  query(text: string): void;
}

/**
 * `COPY … TO STDOUT (FORMAT csv, HEADER)` as a byte stream of rewritten rows (CsvRowRewriter),
 * for `client.query(new CsvCopyStream(...))`. Like pg-copy-streams' `to()`, it takes the
 * connection's socket over for the COPY and hands it back to pg at CopyDone (or at an error,
 * which pg then reports through handleError); unlike it, it reads the protocol itself, so it
 * never makes an object per row: rows are rewritten straight from the socket's chunks into
 * EXPORT_CHUNK_BYTES buffers. `prefix` (the BOM) starts the first chunk; `finish` (the export's
 * COMMIT) runs after the COPY completed, before the stream ends, and fails the stream if it fails.
 */
export class CsvCopyStream extends Readable implements pg.Submittable {
  /** Rows COPY reported (its command tag), set when the stream ends. */
  rowCount = 0;
  private readonly text: string;
  private readonly writer: ChunkWriter;
  private readonly parser: CopyOutParser;
  private connection: PgConnection | null = null;
  private pgOnData: ((chunk: Buffer) => void) | null = null;
  private paused = false;
  private copying = false;
  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly finish: (() => Promise<void>) | undefined;

  constructor(text: string, rewriter: CsvRowRewriter, prefix?: Buffer, finish?: () => Promise<void>) {
    // One Buffer per chunk (an async iterator of a byte-mode stream would join buffered chunks: a copy).
    super({ objectMode: true, highWaterMark: 2 });
    this.text = text;
    this.finish = finish;
    this.writer = new ChunkWriter(EXPORT_CHUNK_BYTES, (chunk) => {
      if (!this.push(chunk) && this.copying && !this.paused) {
        this.paused = true;
        this.connection!.stream.pause();
      }
    });
    if (prefix) {
      this.writer.reserve(prefix.length);
      this.writer.copy(prefix, 0, prefix.length);
    }
    this.parser = new CopyOutParser((src, s, end) => rewriter.row(src, s, end, this.writer));
  }

  submit(connection: unknown): Error | undefined {
    const con = connection as PgConnection;
    this.connection = con;
    const listeners = con.stream.listeners('data');
    // pg reports a returned error through handleError.
    if (listeners.length !== 1) return new Error(`cannot take over the connection for COPY: ${listeners.length} data listeners on its socket`);
    this.pgOnData = listeners[0];
    con.stream.removeListener('data', this.pgOnData);
    con.stream.on('data', this.onData);
    this.copying = true;
    con.query(this.text);
    return undefined;
  }

  private data(chunk: Buffer): void {
    if (this.destroyed) return;
    let rest: number;
    try {
      rest = this.parser.push(chunk);
    } catch (err) {
      // A row the rewriter cannot read: the connection is mid-COPY, so its owner must discard it.
      this.copying = false;
      this.destroy(err as Error);
      return;
    }
    if (rest < 0) return;
    // The COPY is over (or failed): what is left is pg's (CommandComplete / ErrorResponse, ReadyForQuery).
    this.writer.emit();
    const con = this.connection!;
    this.copying = false;
    con.stream.removeListener('data', this.onData);
    con.stream.on('data', this.pgOnData!);
    if (this.paused) {
      this.paused = false;
      con.stream.resume();
    }
    if (rest < chunk.length) this.pgOnData!(chunk.subarray(rest));
  }

  _read(): void {
    if (this.paused && this.copying) {
      this.paused = false;
      this.connection!.stream.resume();
    }
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rowCount = Number(m[1]);
    if (!this.finish) {
      this.push(null);
      return;
    }
    this.finish().then(
      () => this.push(null),
      (err: Error) => this.destroy(err),
    );
  }

  handleError(err: Error): void {
    this.destroy(err);
  }

  handleReadyForQuery(): void {}
}
