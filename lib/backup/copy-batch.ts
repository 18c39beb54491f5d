import { Readable } from 'node:stream';

/**
 * Several `COPY ... TO STDOUT` statements sent as ONE simple query (`COPY a TO STDOUT; COPY b TO
 * STDOUT; ...`), read back as one stream of events that says which statement each piece of data
 * belongs to. A backup of a catalog of thousands of small tables spent most of its data phase on
 * one round trip per table (the query's socket write, the server's parse and reply, the wait);
 * a batch pays those once. The server runs the statements one after the other in the backup's
 * transaction and snapshot, exactly as if they had been sent one by one; the first that fails
 * ends the batch with its error (the transaction is then aborted: the backup fails).
 *
 * A pg `Submittable`, like pg-copy-streams' `to()`: it takes over the connection's socket while the
 * COPY data flows (parsing the protocol itself, so no message object per row is made) and hands
 * it back to pg before the last statement's CommandComplete, so pg sees the end of the query (and
 * any error) the usual way.
 *
 * Protocol (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY): per
 * statement CopyOutResponse 'H', CopyData 'd'*, CopyDone 'c', CommandComplete 'C'; then, after the
 * last one, ReadyForQuery 'Z'. NoticeResponse 'N', ParameterStatus 'S' and NotificationResponse
 * 'A' may come in between and are skipped; an ErrorResponse 'E' is left to pg.
 */
export type BatchEvent = { table: number; data: Buffer } | { table: number; end: true };

const ERROR = 0x45; // E
const COPY_OUT = 0x48; // H
const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const SKIPPED = new Set([0x43 /* C */, 0x4e /* N */, 0x53 /* S */, 0x41 /* A */]);

interface PgConnection {
  stream: import('node:net').Socket;
  query(text: string): void;
}

export class CopyBatchQuery extends Readable {
  readonly text: string;
  private readonly count: number;
  private connection: PgConnection | undefined;
  private pgDataHandler: ((b: Buffer) => void) | undefined;
  private readonly onReadable = () => this.forward();
  /** Bytes of a message header split across socket reads (fewer than 5). */
  private partial: Buffer | null = null;
  private code = 0;
  /** Content bytes of the current message not read yet; -1: at a message header. */
  private left = -1;
  private pieces: Buffer[] = [];
  private piecesBytes = 0;
  private wanted = false;
  private forwarding = false;
  private detached = false;
  /** Index of the statement whose COPY started last (-1 before the first). */
  private started = -1;
  private inCopy = false;

  constructor(statements: string[]) {
    super({ objectMode: true, highWaterMark: 16 });
    if (statements.length === 0) throw new Error('CopyBatchQuery: no statements');
    this.count = statements.length;
    this.text = statements.join(';\n');
  }

  /** Index of the statement that was running when the batch failed (the one an error belongs to). */
  get failedStatement(): number {
    return Math.min(this.count - 1, this.inCopy ? this.started : this.started + 1);
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    const listeners = connection.stream.listeners('data');
    if (listeners.length !== 1) throw new Error(`CopyBatchQuery: expected one data listener on the connection, found ${listeners.length}`);
    const handler = listeners[0] as (b: Buffer) => void;
    this.pgDataHandler = handler;
    connection.stream.removeListener('data', handler);
    connection.stream.pause();
    connection.stream.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.wanted = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || this.detached || !this.connection) return;
    this.forwarding = true;
    try {
      let chunk: Buffer | null;
      while (this.wanted && !this.detached && (chunk = this.connection.stream.read() as Buffer | null) !== null) this.parse(chunk);
    } finally {
      this.forwarding = false;
    }
  }

  /** Hands the socket back to pg with the bytes not consumed yet (the rest of the query's reply). */
  private detach(rest: Buffer): void {
    this.detached = true;
    const stream = this.connection!.stream;
    stream.removeListener('readable', this.onReadable);
    stream.on('data', this.pgDataHandler!);
    if (rest.length) this.pgDataHandler!(rest);
    process.nextTick(() => stream.resume());
  }

  private flush(): void {
    if (this.piecesBytes === 0) return;
    const data = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.piecesBytes);
    this.pieces = [];
    this.piecesBytes = 0;
    if (!this.push({ table: this.started, data } satisfies BatchEvent)) this.wanted = false;
  }

  private parse(input: Buffer): void {
    let buf = input;
    if (this.partial) {
      buf = Buffer.concat([this.partial, input]);
      this.partial = null;
    }
    let pos = 0;
    while (pos < buf.length) {
      if (this.left < 0) {
        if (buf.length - pos < 5) {
          this.partial = Buffer.from(buf.subarray(pos));
          break;
        }
        const code = buf[pos];
        if (code === ERROR) {
          // pg reads the error (and the ReadyForQuery after it) and calls handleError.
          this.flush();
          this.detach(buf.subarray(pos));
          return;
        }
        this.code = code;
        this.left = buf.readUInt32BE(pos + 1) - 4;
        pos += 5;
        if (code === COPY_OUT) {
          this.started++;
          this.inCopy = true;
        } else if (code !== COPY_DATA && code !== COPY_DONE && !SKIPPED.has(code)) {
          // Anything else (ReadyForQuery before the last statement, an unexpected message) is pg's:
          // it ends the query, and handleReadyForQuery reports the batch as cut short.
          this.flush();
          this.detach(buf.subarray(pos - 5));
          return;
        }
      }
      const n = Math.min(this.left, buf.length - pos);
      if (this.code === COPY_DATA && n > 0) {
        this.pieces.push(buf.subarray(pos, pos + n));
        this.piecesBytes += n;
      }
      pos += n;
      this.left -= n;
      if (this.left > 0) break;
      this.left = -1;
      if (this.code === COPY_DONE) {
        this.flush();
        this.inCopy = false;
        this.push({ table: this.started, end: true } satisfies BatchEvent);
        if (this.started === this.count - 1) {
          this.detach(buf.subarray(pos));
          this.push(null);
          return;
        }
      }
    }
    this.flush();
  }

  handleError(err: Error): void {
    this.destroy(err);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    if (this.started < this.count - 1 || this.inCopy) this.destroy(new Error(`the server ended a batch of ${this.count} COPY statements after ${this.started + 1}`));
  }
}
