import type pg from 'pg';
import { searchPathRoutines } from '../catalog/read-catalog';

/**
 * The target's routines that find their objects through the search_path (no SET search_path of
 * their own, a body that is not SQL-standard), run by the indexes, CHECKs, generated columns and
 * partition keys of the backed-up schemas. A restore into tables that use them — data-only, or
 * copies made by --into-schema, which call the live database's routines — ran them under the
 * restore's search_path '' and failed on the first row ("function norm(text) does not exist",
 * rolled back; TRUNCATE and CREATE TABLE already run them). The target's own sessions run them with
 * the search_path they start with: each gets that path as a setting of its own for the length of
 * the load (`SET search_path FROM CURRENT`) and loses it again before COMMIT, so no other session
 * ever sees it. The restore's session stays at '' (its COPY input names reg* values as printed
 * under ''). Only routines the restoring role may alter; the others are left alone.
 */
export interface TargetSearchPath {
  /** The plan's line, or none when there is nothing to do. */
  lines: string[];
  /** Gives the routines the path (inside the restore's transaction, before anything runs them). */
  give(c: pg.ClientBase): Promise<void>;
  /** Takes it back (before COMMIT). */
  takeBack(c: pg.ClientBase): Promise<void>;
}

export async function targetSearchPath(client: pg.ClientBase, schemas: string[]): Promise<TargetSearchPath> {
  const path = (await client.query<{ p: string | null }>(`SELECT (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'search_path') AS p`)).rows[0].p ?? '';
  const { alterable: bound, others } = path.trim() ? await searchPathRoutines(client, schemas) : { alterable: [], others: [] };
  const n = bound.length;
  const list = (xs: string[]) => (xs.length === 1 ? xs[0] : `${xs.length} routines (${xs.slice(0, 3).join(', ')}${xs.length > 3 ? ', …' : ''})`);
  const lines = n ? [`run ${list(bound)}, which ${n === 1 ? 'finds its' : 'find their'} objects through the search_path, with the target's (${path}) while the rows load, as its sessions do`] : [];
  // Said before anything runs: a row that runs one of these under the restore's '' fails the reload (rolled back).
  if (others.length) lines.push(`leave ${list(others)} as ${others.length === 1 ? 'it is' : 'they are'}: ${others.length === 1 ? 'it finds its' : 'they find their'} objects through the search_path and this role may not alter ${others.length === 1 ? 'it' : 'them'} (not the owner's member); if the reload fails with "does not exist" in ${others.length === 1 ? 'it' : 'one'}, reload as its owner or give it a search_path (ALTER FUNCTION … SET search_path = …)`);
  return {
    lines,
    async give(c) {
      if (!n) return;
      await c.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [path]);
      for (const sig of bound) await c.query(`ALTER FUNCTION ${sig} SET search_path FROM CURRENT`);
      await c.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
    },
    async takeBack(c) {
      for (const sig of bound) await c.query(`ALTER FUNCTION ${sig} RESET search_path`);
    },
  };
}
