import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { verifyBackup } from '../../lib/backup/verify';
import { manifestKey, type Manifest, type ManifestEntry } from '../../lib/backup/manifest';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, tamperMember, tempStorage } from './restore-test-helpers';

// A drill proves the backup restores to what was backed up, not just to the right rows: every
// member below is edited and every checksum fixed up (what anyone who can write to unsigned
// storage can do, or a writer/reader bug would produce). The drill must fail naming what differs.
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
const role = `h2dts_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'h2dts' });
  await exec(serverUrl(), `CREATE ROLE ${role} NOLOGIN`);
  await exec(
    src.url,
    `CREATE SEQUENCE public.counter START 5;
     SELECT pg_catalog.setval('public.counter', 4242, true);
     CREATE TABLE public.acct (id int PRIMARY KEY DEFAULT pg_catalog.nextval('public.counter'), owner_name text DEFAULT 'nobody', note text);
     ALTER TABLE public.acct ALTER COLUMN note SET COMPRESSION pglz;
     ALTER TABLE public.acct ALTER COLUMN owner_name SET (n_distinct = 0.5);
     -- A materialized view's column settings were not dumped at all (the untouched drill failed).
     CREATE MATERIALIZED VIEW public.notes AS SELECT id, note FROM public.acct;
     ALTER MATERIALIZED VIEW public.notes ALTER COLUMN note SET COMPRESSION pglz;
     ALTER MATERIALIZED VIEW public.notes ALTER COLUMN id SET STATISTICS 321;
     ALTER MATERIALIZED VIEW public.notes ALTER COLUMN note SET STORAGE MAIN;
     ALTER MATERIALIZED VIEW public.notes ALTER COLUMN id SET (n_distinct = -1);
     INSERT INTO public.acct (owner_name, note) VALUES ('a', 'x'), ('b', 'y');
     COMMENT ON TABLE public.acct IS 'accounts';
     GRANT SELECT ON public.acct TO ${role};
     ALTER TABLE public.acct ENABLE ROW LEVEL SECURITY;
     CREATE POLICY mine ON public.acct FOR SELECT TO ${role} USING (owner_name = current_user);
     CREATE TABLE public.owned (id int GENERATED ALWAYS AS IDENTITY, n int);
     INSERT INTO public.owned (n) SELECT g FROM pg_catalog.generate_series(1, 7) g;
     CREATE SEQUENCE public.fresh START 100;
     ALTER TABLE public.owned OWNER TO ${role};
     SELECT pg_catalog.lo_from_bytea(0, pg_catalog.convert_to('the large object', 'UTF8'));
     SELECT pg_catalog.lo_from_bytea(424299, pg_catalog.convert_to('a shared large object', 'UTF8'));
     GRANT SELECT ON LARGE OBJECT 424299 TO ${role};
     COMMENT ON LARGE OBJECT 424299 IS 'shared';`,
  );
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
});

afterAll(async () => {
  await src?.drop();
  await exec(serverUrl(), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function drillTampered(pick: (e: ManifestEntry) => boolean, edit: (s: string) => string, editManifest?: (m: Manifest) => void) {
  const tdir = `${dir}-${randomBytes(3).toString('hex')}`;
  await cp(dir, tdir, { recursive: true });
  const ts = openStorage(tdir);
  try {
    await tamperMember(tdir, id, pick, edit);
    if (editManifest) {
      const file = path.join(tdir, manifestKey(id));
      const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
      editManifest(m);
      await writeFile(file, JSON.stringify(m, null, 2));
    }
    const verify = await verifyBackup(ts, id);
    return Object.assign(await runDrill({ storage: ts, id, serverUrl: serverUrl() }), { verify });
  } finally {
    await ts.close();
    await rm(tdir, { recursive: true, force: true });
  }
}


describe('a drill of a backup whose members were edited and every checksum fixed up', () => {
  it('passes untouched', async () => {
    const r = await runDrill({ storage, id, serverUrl: serverUrl() });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
  });

  it.each([
    ['a GRANT dropped', (e: ManifestEntry) => e.kind === 'ACL' && e.schema === 'public', (s: string) => s.replace(/GRANT SELECT ON TABLE public\.acct TO [^;]*;/, ''), /relation public\.acct differs/],
    ['a comment changed', (e: ManifestEntry) => e.kind === 'COMMENT', (s: string) => s.replace("'accounts'", "'acc0unts'"), /relation public\.acct differs/],
    ['an owner changed', (e: ManifestEntry) => e.kind === 'OWNER' && e.schema === 'public', (s: string) => s.replace(/ALTER TABLE public\.owned OWNER TO [^;]*;/, ''), /relation public\.owned differs/],
    ['a column default changed', (e: ManifestEntry) => e.kind === 'TABLE' && e.name === 'acct', (s: string) => s.replace("DEFAULT 'nobody'", "DEFAULT 'someone'"), /relation public\.acct differs/],
    ['a policy dropped', (e: ManifestEntry) => e.kind === 'POLICY', (s: string) => s.replace(/CREATE POLICY[^;]*;/, ''), /policy public\.acct mine is missing/],
    // The restored database then hands out ids that were already used.
    ["a large object's GRANT dropped", (e: ManifestEntry) => e.kind === 'ACL' && e.name === 'LARGE OBJECTS', (s: string) => s.replace(/GRANT SELECT ON LARGE OBJECT 424299 TO [^;]*;/, ''), /large object 424299 differs \(owner, privileges or comment\)/],
    ["a large object's comment changed", (e: ManifestEntry) => e.kind === 'LARGE OBJECTS', (s: string) => s.replace("'shared'", "'sh4red'"), /large object 424299 differs \(owner, privileges or comment\)/],
    ["a large object's owner changed", (e: ManifestEntry) => e.kind === 'OWNER' && e.name === 'LARGE OBJECTS', (s: string) => s.replace(/ALTER LARGE OBJECT 424299 OWNER TO [^;]*;/, `ALTER LARGE OBJECT 424299 OWNER TO ${role};`), /large object 424299 differs \(owner, privileges or comment\)/],
    ['a sequence value changed', (e: ManifestEntry) => e.section === 'sequence-set', (s: string) => s.replace(/'public\.counter', [0-9]+, true/, "'public.counter', 1, true"), /sequence value public\.counter differs/],
    ['an identity sequence left at its start', (e: ManifestEntry) => e.section === 'sequence-set', (s: string) => s.replace(/SELECT pg_catalog\.setval\('public\.owned_id_seq'[^\n]*\n/, ''), /sequence value public\.owned_id_seq differs/],
    // Column storage settings (column-settings.ts): before, a restore that lost them passed the drill.
    ["a column's compression dropped", (e: ManifestEntry) => e.kind === 'TABLE' && e.name === 'acct', (s: string) => s.replace(/ALTER TABLE[^;]*ALTER COLUMN note SET COMPRESSION pglz;/, ''), /column settings public\.acct differs \(a column's compression or n_distinct\)/],
    ["a column's n_distinct dropped", (e: ManifestEntry) => e.kind === 'TABLE' && e.name === 'acct', (s: string) => s.replace(/ALTER TABLE[^;]*ALTER COLUMN owner_name SET \(n_distinct[^;]*;/, ''), /column settings public\.acct differs/],
    ['a never-used sequence marked used', (e: ManifestEntry) => e.section === 'sequence-set', (s: string) => s.replace(/'public\.fresh', 100, false/, "'public.fresh', 100, true"), /sequence value public\.fresh differs/],
  ])('%s: fails naming it', async (_what, pick, edit, why) => {
    const r = await drillTampered(pick, edit);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^restored (schema|large objects) differ(s)? from the backup: /);
    expect(r.error).toMatch(why);
  });

  // What the drill compares against must not be removable by deleting it: every backup of this
  // format records it, so its absence is tampering, never "nothing to compare".
  it('the schema fingerprint deleted from the manifest (and a GRANT dropped): fails naming it', async () => {
    const r = await drillTampered((e) => e.kind === 'ACL' && e.schema === 'public', (s) => s.replace(/GRANT SELECT ON TABLE public\.acct TO [^;]*;/, ''), (m) => delete m.schemaFingerprint);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/the manifest has no schema fingerprint/);
    expect(r.tables).toEqual([]); // refused before anything was restored
  });

  it("the large-object records deleted from the manifest (and the object's bytes changed): fails naming it", async () => {
    const r = await drillTampered((e) => e.kind === 'LARGE OBJECTS', (s) => s.replace(/'\\x[0-9a-f]+'/, `'\\x${Buffer.from('another object!!').toString('hex')}'`), (m) => delete m.largeObjects);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/the archive holds large objects but the manifest records none/);
    expect(r.error).not.toMatch(/\n/);
    // verify (no database) too: it checks large objects against the records it no longer had.
    expect(r.verify.ok).toBe(false);
    expect(r.verify.problems.map((p) => p.problem).join('\n')).toMatch(/the archive holds large objects but the manifest records none/);
  });
});
