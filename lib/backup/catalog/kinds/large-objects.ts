import { createHash } from 'node:crypto';
import type pg from 'pg';
import { toAppError } from '../../../errors';
import { buildAclCommands, commentStatement, ownerStatement } from '../acl';

/**
 * Large objects (lo_import / lo_create): database-wide, outside any schema, so every one is backed
 * up (as pg_dump does for a whole database). Each is written as plain SQL that `psql` runs:
 *
 *   SELECT pg_catalog.lo_unlink(oid) ... (only if one with that oid exists: replace, never duplicate)
 *   SELECT pg_catalog.lo_create('<oid>');  ALTER LARGE OBJECT ... OWNER TO ...;  COMMENT / GRANT
 *   SELECT pg_catalog.lo_put('<oid>', <offset>, '\x<hex>');  -- one per READ_BYTES slice
 *
 * Content is read in READ_BYTES slices with lo_get(oid, offset, length) inside the backup's
 * snapshot, so a 1 GB object costs the same memory as a 1 MB one, and hashed as it streams: the
 * manifest keeps each object's size and SHA-256, checked against the restored object.
 */

/** Bytes read per lo_get call (and per lo_put statement). */
export const READ_BYTES = 1024 * 1024;
/** Archive members are cut once their SQL reaches this size (hex doubles the bytes). */
export const MEMBER_SQL_BYTES = 8 * 1024 * 1024;

export interface LargeObjectMeta {
  oid: number;
  owner: string;
  acl: string[] | null;
  aclDefault: string[];
  comment: string | null;
}

/** One large object as recorded in the manifest. */
export interface LargeObjectRecord {
  oid: number;
  bytes: number;
  /** Hex SHA-256 of the object's content. */
  sha256: string;
}

export async function listLargeObjects(client: pg.ClientBase): Promise<LargeObjectMeta[]> {
  const r = await client.query<{ oid: string; owner: string; acl: string[] | null; aclDefault: string[]; comment: string | null }>(
    `SELECT l.oid::int8::text AS oid, pg_catalog.pg_get_userbyid(l.lomowner) AS owner, l.lomacl::text[] AS acl,
            pg_catalog.acldefault('L', l.lomowner)::text[] AS "aclDefault",
            pg_catalog.obj_description(l.oid, 'pg_largeobject') AS comment
       FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid`,
  );
  return r.rows.map((x) => ({ ...x, oid: Number(x.oid) }));
}

/** The statements creating an (empty) large object with its owner, comment and privileges. */
export function largeObjectHeaderSql(lo: LargeObjectMeta, serverVersionNum: number): string {
  const o = `'${lo.oid}'`;
  let sql = `SELECT pg_catalog.lo_unlink(l.oid) FROM pg_catalog.pg_largeobject_metadata l WHERE l.oid = ${o};\n`;
  sql += `SELECT pg_catalog.lo_create(${o});\n`;
  sql += ownerStatement('LARGE OBJECT', String(lo.oid), lo.owner);
  if (lo.comment !== null) sql += commentStatement(`LARGE OBJECT ${lo.oid}`, lo.comment);
  sql += buildAclCommands({ type: 'LARGE OBJECT', name: String(lo.oid), owner: lo.owner }, lo.acl, lo.aclDefault, { serverVersionNum });
  return sql;
}

/**
 * Streams every large object as SQL text pieces to `emit` (each a run of complete statements of at
 * most ~MEMBER_SQL_BYTES, with the oids it covers), reading through `client` (inside the snapshot).
 * Returns the manifest records. A large object the role may not read fails the backup naming it.
 */
export async function dumpLargeObjects(
  client: pg.ClientBase,
  serverVersionNum: number,
  emit: (sql: string, oids: [number, number]) => Promise<void>,
): Promise<LargeObjectRecord[]> {
  const out: LargeObjectRecord[] = [];
  let buf = '';
  let first = -1;
  let last = -1;
  const flush = async () => {
    if (!buf) return;
    await emit(buf, [first, last]);
    buf = '';
    first = -1;
  };
  const append = async (oid: number, sql: string) => {
    if (first < 0) first = oid;
    last = oid;
    buf += sql;
    if (buf.length >= MEMBER_SQL_BYTES) await flush();
  };
  for (const lo of await listLargeObjects(client)) {
    await append(lo.oid, largeObjectHeaderSql(lo, serverVersionNum));
    const h = createHash('sha256');
    let offset = 0;
    for (;;) {
      let piece: Buffer;
      try {
        const r = await client.query<{ d: Buffer }>('SELECT pg_catalog.lo_get($1::oid, $2::int8, $3::int4) AS d', [lo.oid, offset, READ_BYTES]);
        piece = r.rows[0].d;
      } catch (err) {
        throw toAppError(err, `reading large object ${lo.oid} failed`);
      }
      if (!piece.length) break;
      h.update(piece);
      await append(lo.oid, `SELECT pg_catalog.lo_put('${lo.oid}', ${offset}, '\\x${piece.toString('hex')}');\n`);
      offset += piece.length;
      if (piece.length < READ_BYTES) break;
    }
    out.push({ oid: lo.oid, bytes: offset, sha256: h.digest('hex') });
  }
  await flush();
  return out;
}

/** Size and SHA-256 of a large object as the server holds it now (read in slices, flat memory). */
export async function largeObjectDigest(client: pg.ClientBase, oid: number): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let offset = 0;
  for (;;) {
    const r = await client.query<{ d: Buffer }>('SELECT pg_catalog.lo_get($1::oid, $2::int8, $3::int4) AS d', [oid, offset, READ_BYTES]);
    const piece = r.rows[0].d;
    h.update(piece);
    offset += piece.length;
    if (piece.length < READ_BYTES) break;
  }
  return { bytes: offset, sha256: h.digest('hex') };
}

/**
 * Compares the target's large objects with the manifest's records: every one present with the
 * same size and SHA-256. Returns one line per problem (empty: identical).
 */
export async function largeObjectProblems(client: pg.ClientBase, records: LargeObjectRecord[]): Promise<string[]> {
  const problems: string[] = [];
  const present = new Set((await client.query<{ oid: string }>('SELECT oid::int8::text AS oid FROM pg_catalog.pg_largeobject_metadata')).rows.map((r) => Number(r.oid)));
  for (const rec of records) {
    if (!present.has(rec.oid)) {
      problems.push(`large object ${rec.oid} is missing`);
      continue;
    }
    const d = await largeObjectDigest(client, rec.oid);
    if (d.bytes !== rec.bytes || d.sha256 !== rec.sha256) problems.push(`large object ${rec.oid} differs (${d.bytes} bytes, expected ${rec.bytes})`);
  }
  return problems;
}
