import { createHash } from 'node:crypto';
import type pg from 'pg';
import { toAppError } from '../../../errors';
import { aclStatementRoles, buildAclCommands, commentStatement, ownerStatement } from '../acl';

/**
 * Large objects (lo_import / lo_create): database-wide, outside any schema, so every one is backed
 * up (as pg_dump does for a whole database). Each is written as plain SQL that `psql` runs:
 *
 *   SELECT pg_catalog.lo_unlink(oid) ... (only if one with that oid exists: replace, never duplicate)
 *   SELECT pg_catalog.lo_create('<oid>');  COMMENT ON LARGE OBJECT ...
 *   SELECT pg_catalog.lo_put('<oid>', <offset>, '\x<hex>');  -- one per READ_BYTES slice
 *
 * Owners (`ALTER LARGE OBJECT ... OWNER TO`) and privileges (GRANT/REVOKE) go into one 'OWNER'
 * and one 'ACL' member after them (named 'LARGE OBJECTS'), skipped by restore --no-owner /
 * --no-privileges like the schemas' ones.
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
  /**
   * The first 16 hex digits of the SHA-256 of its owner, privileges and comment (largeObjectMetaHash),
   * compared by the drill: size and content alone passed a drill whose large object lost its GRANT,
   * comment or owner. Absent in manifests written before.
   */
  meta?: string;
}

/**
 * What a large object's owner, privileges and comment restore to, hashed: the ACL as its sorted
 * entries, none when it is the owner's default (the backup then writes no GRANT/REVOKE, and the
 * restored object has a NULL ACL that means the same).
 */
export function largeObjectMetaHash(lo: LargeObjectMeta): string {
  const sorted = (a: string[]) => [...a].sort().join(',');
  const acl = lo.acl === null || sorted(lo.acl) === sorted(lo.aclDefault) ? '' : sorted(lo.acl);
  return createHash('sha256').update(JSON.stringify([lo.owner, acl, lo.comment])).digest('hex').slice(0, 16);
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

/** The statements creating an (empty) large object with its comment (owner and privileges: largeObjectSecurity). */
export function largeObjectHeaderSql(lo: LargeObjectMeta): string {
  const o = `'${lo.oid}'`;
  let sql = `SELECT pg_catalog.lo_unlink(l.oid) FROM pg_catalog.pg_largeobject_metadata l WHERE l.oid = ${o};\n`;
  sql += `SELECT pg_catalog.lo_create(${o});\n`;
  if (lo.comment !== null) sql += commentStatement(`LARGE OBJECT ${lo.oid}`, lo.comment);
  return sql;
}

/** Owners and privileges of the large objects: their own 'OWNER' / 'ACL' members, so restore --no-owner / --no-privileges skip them. */
export interface LargeObjectSecurity {
  ownerSql: string;
  aclSql: string;
  owners: Set<string>;
  privileges: Set<string>;
}

function addSecurity(s: LargeObjectSecurity, lo: LargeObjectMeta, serverVersionNum: number): void {
  s.ownerSql += ownerStatement('LARGE OBJECT', String(lo.oid), lo.owner);
  s.owners.add(lo.owner);
  const target = { type: 'LARGE OBJECT' as const, name: String(lo.oid), owner: lo.owner };
  s.aclSql += buildAclCommands(target, lo.acl, lo.aclDefault, { serverVersionNum });
  for (const r of aclStatementRoles(target, lo.acl, lo.aclDefault)) s.privileges.add(r);
}

/**
 * Streams every large object as SQL text pieces to `emit` (each a run of complete statements of at
 * most ~MEMBER_SQL_BYTES, with the oids it covers), reading through `client` (inside the snapshot).
 * Returns the manifest records and the objects' owners and privileges (for their own members). A
 * large object the role may not read fails the backup naming it.
 */
export async function dumpLargeObjects(
  client: pg.ClientBase,
  serverVersionNum: number,
  emit: (sql: string, oids: [number, number]) => Promise<void>,
): Promise<{ records: LargeObjectRecord[]; security: LargeObjectSecurity }> {
  const out: LargeObjectRecord[] = [];
  const security: LargeObjectSecurity = { ownerSql: '', aclSql: '', owners: new Set(), privileges: new Set() };
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
    await append(lo.oid, largeObjectHeaderSql(lo));
    addSecurity(security, lo, serverVersionNum);
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
    out.push({ oid: lo.oid, bytes: offset, sha256: h.digest('hex'), meta: largeObjectMetaHash(lo) });
  }
  await flush();
  return { records: out, security };
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
 * Re-computes each large object's size and SHA-256 from the archive's 'LARGE OBJECTS' members
 * (their lo_create / lo_put statements, fed in archive order) and compares them with the manifest's
 * records: the archive-side check of verify, as a table's chunks against its content hash.
 */
export class LargeObjectArchiveCheck {
  private readonly seen = new Map<number, { bytes: number; hash: ReturnType<typeof createHash>; problem?: string }>();

  /** One 'LARGE OBJECTS' member's SQL text. */
  feed(sql: string): void {
    for (const m of sql.matchAll(/^SELECT pg_catalog\.lo_create\('([0-9]+)'\);$|^SELECT pg_catalog\.lo_put\('([0-9]+)', ([0-9]+), '\\x([0-9a-f]*)'\);$/gm)) {
      if (m[1] !== undefined) {
        this.seen.set(Number(m[1]), { bytes: 0, hash: createHash('sha256') });
        continue;
      }
      const oid = Number(m[2]);
      const lo = this.seen.get(oid);
      if (!lo) {
        this.seen.set(oid, { bytes: 0, hash: createHash('sha256'), problem: `large object ${oid}: content written before the object is created` });
        continue;
      }
      if (Number(m[3]) !== lo.bytes) lo.problem ??= `large object ${oid}: a slice at byte ${m[3]} where byte ${lo.bytes} was expected`;
      const piece = Buffer.from(m[4], 'hex');
      lo.hash.update(piece);
      lo.bytes += piece.length;
    }
  }

  /** Differences from the manifest's records (empty: the archive holds exactly them). */
  problems(records: readonly LargeObjectRecord[]): string[] {
    const out: string[] = [];
    for (const rec of records) {
      const lo = this.seen.get(rec.oid);
      if (!lo) {
        out.push(`large object ${rec.oid} is not in the archive`);
        continue;
      }
      if (lo.problem) out.push(lo.problem);
      else if (lo.bytes !== rec.bytes || lo.hash.digest('hex') !== rec.sha256) out.push(`large object ${rec.oid}: the archive's content (${lo.bytes} bytes) does not match the manifest's SHA-256 (${rec.bytes} bytes)`);
    }
    const known = new Set(records.map((r) => r.oid));
    for (const oid of this.seen.keys()) if (!known.has(oid)) out.push(`large object ${oid} is in the archive but not in the manifest`);
    return out;
  }
}

/**
 * Compares the target's large objects with the manifest's records: every one present with the
 * same size and SHA-256. Returns one line per problem (empty: identical).
 */
export async function largeObjectProblems(client: pg.ClientBase, records: LargeObjectRecord[]): Promise<string[]> {
  const problems: string[] = [];
  const present = new Map((await listLargeObjects(client)).map((lo) => [lo.oid, lo]));
  for (const rec of records) {
    const lo = present.get(rec.oid);
    if (!lo) {
      problems.push(`large object ${rec.oid} is missing`);
      continue;
    }
    if (rec.meta !== undefined && rec.meta !== largeObjectMetaHash(lo)) problems.push(`large object ${rec.oid} differs (owner, privileges or comment)`);
    const d = await largeObjectDigest(client, rec.oid);
    if (d.bytes !== rec.bytes || d.sha256 !== rec.sha256) problems.push(`large object ${rec.oid} differs (${d.bytes} bytes, expected ${rec.bytes})`);
  }
  return problems;
}
