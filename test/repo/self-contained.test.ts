import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chinookSqlPath } from '../helpers/fixtures';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the repository is self-contained (a clone with nothing beside it runs the suite)', () => {
  it('finds Chinook inside the repository, with its MIT licence, when CHINOOK_SQL is unset', () => {
    const saved = process.env.CHINOOK_SQL;
    delete process.env.CHINOOK_SQL;
    try {
      const found = chinookSqlPath();
      expect(path.relative(ROOT, found)).toBe(path.join('test', 'fixtures', 'chinook.sql'));
      expect(readFileSync(found, 'utf8')).toContain('CREATE TABLE artist');
      const licence = readFileSync(path.join(ROOT, 'test/fixtures/CHINOOK-LICENSE.md'), 'utf8');
      expect(licence).toContain('Permission is hereby granted, free of charge');
      expect(licence).toContain('Luis Rocha');
    } finally {
      if (saved !== undefined) process.env.CHINOOK_SQL = saved;
    }
  });

  it('CHINOOK_SQL still overrides the vendored copy', () => {
    const saved = process.env.CHINOOK_SQL;
    process.env.CHINOOK_SQL = path.join(ROOT, 'package.json');
    try {
      expect(chinookSqlPath()).toBe(path.join(ROOT, 'package.json'));
    } finally {
      if (saved === undefined) delete process.env.CHINOOK_SQL;
      else process.env.CHINOOK_SQL = saved;
    }
  });

  it('no tracked test, script or config reads a path outside the repository', () => {
    const files = execFileSync('git', ['ls-files', 'test', 'scripts', 'lib', 'cli', '.ci', 'vitest.config.ts'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => /\.(ts|mjs|js|sh)$|^\.ci\//.test(f) && f !== 'test/repo/self-contained.test.ts' && existsSync(path.join(ROOT, f)));
    const offenders = files.filter((f) => /\.\.\/\.\.\/\.\.\/shared|\.\.\/shared\/|\/work\/shared/.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
