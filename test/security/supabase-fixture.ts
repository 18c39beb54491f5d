import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { serverUrl } from '../helpers/db';

const exec = promisify(execFile);
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/supabase');

/**
 * The Supabase-shaped fixture (test/fixtures/supabase): platform.sql makes a "new project",
 * project.sql adds the project's own public schema on top. Owner and extra grantee are roles
 * unique to the test file, so a test can drop them (a "server that lacks the roles") without
 * disturbing test files running in parallel.
 */
export interface SupabaseRoles {
  owner: string;
  grantee: string;
  /** Drops both roles (after the databases using them are gone or cleaned). */
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function createFixtureRoles(): Promise<SupabaseRoles> {
  const tag = randomBytes(4).toString('hex');
  const owner = `h2_owner_${tag}`;
  const grantee = `h2_grantee_${tag}`;
  await admin(`CREATE ROLE ${owner} NOLOGIN; CREATE ROLE ${grantee} NOLOGIN`);
  return { owner, grantee, drop: () => dropRoles([owner, grantee]) };
}

/** Drops roles, first removing whatever they own or hold in every database of the server. */
export async function dropRoles(roles: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    const dbs = (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datallowconn`)).rows.map((r) => r.datname);
    for (const db of dbs) {
      const u = new URL(serverUrl());
      u.pathname = `/${db}`;
      const d = new pg.Client({ connectionString: u.toString() });
      try {
        await d.connect();
        for (const r of roles) await d.query(`DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN EXECUTE 'DROP OWNED BY ${r} CASCADE'; END IF; END$$`);
      } catch {
        // a database dropped meanwhile by another test file
      } finally {
        await d.end().catch(() => {});
      }
    }
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${r}`);
  } finally {
    await c.end();
  }
}

async function psql(url: string, file: string, vars: Record<string, string> = {}): Promise<void> {
  const args = ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', url, '-f', path.join(DIR, file)];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  // (the publication's "wal_level is insufficient" WARNING is expected on a test server)
  await exec('psql', args, { maxBuffer: 16 << 20, env: { ...process.env, PGOPTIONS: '-c client_min_messages=error' } });
}

/** A "new Supabase project": roles, platform schemas, default privileges, empty supabase_realtime. */
export async function createNewProject(url: string): Promise<void> {
  await psql(url, 'platform.sql');
}

/** A used project: platform plus the project's schema, grants, publication membership and rows. */
export async function createSupabaseSource(url: string, roles: SupabaseRoles): Promise<void> {
  await psql(url, 'platform.sql');
  await psql(url, 'project.sql', { owner: roles.owner, grantee: roles.grantee });
}
