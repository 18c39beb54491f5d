import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuilt } from '../helpers/app-server';

// Issue 12: the first build printed "Dynamic filesystem access causes tracing of the whole project"
// (lib/storage/open-storage.ts), so on Vercel every function would ship the whole repository. The
// effect, checked on the build itself: what each server function's trace (.nft.json) lists.

const ROOT = path.resolve(import.meta.dirname, '../..');
let release: () => void;

beforeAll(async () => {
  release = await ensureAppBuilt(`${process.pid}-build-trace`);
}, 900_000);

afterAll(() => release?.());

function nftFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? nftFiles(p) : e.name.endsWith('.nft.json') ? [p] : [];
  });
}

describe('next build traces precisely', () => {
  it('no server function traces project files beyond its own chunks, node_modules and the migrations', () => {
    const traces = nftFiles(path.join(ROOT, '.next/server'));
    expect(traces.length).toBeGreaterThan(10);
    const outside = new Map<string, string>();
    let storageRoutes = 0;
    for (const t of traces) {
      const files = (JSON.parse(readFileSync(t, 'utf8')) as { files: string[] }).files.map((f) => path.relative(ROOT, path.resolve(path.dirname(t), f)));
      if (t.includes(`${path.sep}api${path.sep}admin${path.sep}backups`)) storageRoutes++;
      for (const f of files) {
        if (f.startsWith(`.next${path.sep}`) || f.startsWith(`node_modules${path.sep}`)) continue;
        // The restore preflight reads the migration list at run time (latestMigrationName).
        if (/^db[\\/]migrations[\\/]\d{3}_[a-z0-9_]+\.sql$/.test(f)) continue;
        outside.set(f, path.relative(ROOT, t));
      }
    }
    expect(storageRoutes).toBeGreaterThan(0); // the routes that open storage are among those checked
    expect(Object.fromEntries(outside)).toEqual({});
  });
});
