import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { readManifestJson } from '../../lib/backup/manifest';

// The manifest's `publications` (what a non-superuser restore is refused up front for) is read from
// storage like everything else: a malformed list is refused, never half-used.

const fixture = path.join(__dirname, '../fixtures/v2-archive');
const base = () => JSON.parse(readFileSync(path.join(fixture, '20261202T090120Z-1gj3kttl.manifest.json'), 'utf8')) as Record<string, unknown>;

it('a manifest with a well-formed publications list is read with it; a malformed one is refused as corrupt', () => {
  const ok = { ...base(), publications: [{ name: 'p all', allTables: true, schemas: [] }, { name: 'p2', allTables: false, schemas: ['public'] }] };
  expect(readManifestJson(ok, 'm').publications).toEqual(ok.publications);
  expect(readManifestJson(base(), 'm').publications).toBeUndefined();
  for (const bad of [{}, [{ name: 'p', allTables: 'yes', schemas: [] }], [{ name: 'p', allTables: true }], [{ name: 1, allTables: true, schemas: [] }], [{ name: 'p', allTables: false, schemas: [1] }], [null]]) {
    expect(() => readManifestJson({ ...base(), publications: bad }, 'm')).toThrow(/m: manifest publications are malformed/);
  }
});
