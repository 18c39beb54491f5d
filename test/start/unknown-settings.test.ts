import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_SETTINGS, unknownSettingWarnings } from '../../lib/config/known-settings';
import { tempDirSync } from '../helpers/temp-dirs';

// A misspelt setting is silently ignored by any program that reads process.env: with
// BACKUP_ENCRYPTION_RECIPIENT=age1… (no S) every backup went to storage unencrypted, the operator
// believing it encrypted. Every entry point names an unknown BACKUP_*/TICKETHUB_* variable.

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string>) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (/^(BACKUP_|TICKETHUB_)/.test(k)) delete base[k];
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('unknown settings', () => {
  it('the CLI names a misspelt BACKUP_ variable, with the setting it resembles, and goes on', () => {
    const storage = tempDirSync('unknown-settings-');
    const r = cli(['list', '--storage', storage], { BACKUP_ENCRYPTION_RECIPIENT: 'age1qqqq', BACKUP_STORAGE_URL: storage });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual(['tickethub-backup: warning: BACKUP_ENCRYPTION_RECIPIENT is not a setting and is ignored (did you mean BACKUP_ENCRYPTION_RECIPIENTS?)']);
    // Its value is never shown (it may be a secret, as in BACKUP_SIGNING_KEYS=…).
    expect(r.stderr).not.toContain('age1qqqq');
    // Known settings and other prefixes are not warned about.
    const quiet = cli(['list', '--storage', storage], { BACKUP_STORAGE_URL: storage, BACKUP_WORKERS: '2', SESSION_MANAGER: 'local/x', BACKUPS_DIR: '/x' });
    expect(quiet.stderr).toBe('');
  });

  it('suggestions, and nothing to say for a clean environment', () => {
    expect(unknownSettingWarnings({ BACKUP_SIGNINGKEY: 'x', TICKETHUB_DATADIR: '/d', BACKUP_FROBNICATE: '1', PATH: '/bin' })).toEqual([
      'BACKUP_FROBNICATE is not a setting and is ignored',
      'BACKUP_SIGNINGKEY is not a setting and is ignored (did you mean BACKUP_SIGNING_KEY?)',
      'TICKETHUB_DATADIR is not a setting and is ignored (did you mean TICKETHUB_DATA_DIR?)',
    ]);
    expect(unknownSettingWarnings({ BACKUP_TZ: 'UTC', TICKETHUB_DATA_DIR: '/d' })).toEqual([]);
  });

  it('the list is the README configuration table, and every BACKUP_*/TICKETHUB_* variable the code reads is on it', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const documented = new Set(
      readme
        .split('\n')
        .filter((l) => /^\| `[A-Z]/.test(l))
        .flatMap((l) => (l.split('|')[1].match(/`([A-Z][A-Z0-9_]+)`/g) ?? []).map((s) => s.slice(1, -1)))
        .filter((n) => /^(BACKUP_|TICKETHUB_)/.test(n)),
    );
    expect([...KNOWN_SETTINGS].sort()).toEqual([...documented].sort());
    const read = new Set<string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|tsx|mjs)$/.test(name) && !/\.test\.ts$/.test(name) && name !== 'known-settings.ts') {
          for (const m of readFileSync(p, 'utf8').matchAll(/\b((?:BACKUP|TICKETHUB)_[A-Z0-9_]+)\b/g)) read.add(m[1]);
        }
      }
    };
    for (const d of ['lib', 'app', 'cli', 'bin']) walk(path.join(ROOT, d));
    walk(path.join(ROOT, 'scripts'));
    // Names in the code that are not environment variables (activity actions, constants).
    const notSettings = [...read].filter((n) => !KNOWN_SETTINGS.has(n) && !/^BACKUP_(ALERT_FAILED|DELETED|DOWNLOADED|FAILED|STARTED|VERIFIED|LOCK|DEFAULTS|ID_RE|ROLES|RETENTION$)|^TICKETHUB_(TABLES|BUNDLE_PROJECT_ROOT)$/.test(n));
    expect(notSettings, 'read by the code but not in the README table (or add it to the exceptions above if it is not an environment variable)').toEqual([]);
  });
});
