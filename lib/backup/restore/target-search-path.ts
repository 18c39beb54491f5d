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
  const bound = path.trim() ? await searchPathRoutines(client, schemas) : [];
  const n = bound.length;
  return {
    lines: n ? [`run ${n === 1 ? bound[0] : `${n} routines (${bound.slice(0, 3).join(', ')}${n > 3 ? ', …' : ''})`}, which ${n === 1 ? 'finds its' : 'find their'} objects through the search_path, with the target's (${path}) while the rows load, as its sessions do`] : [],
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
