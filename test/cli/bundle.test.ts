import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleDir, freshBundle } from '../../bin/cli-bundle.mjs';

// The bundled CLI (scripts/build-cli.mjs, run by `npm install`): the bin runs it while every source
// it was built from is unchanged, and the sources through tsx otherwise. Exercised on a copy of the
// project in a temp directory (its node_modules: links to ours), so sources can be edited and
// tsx taken away without touching the real ones.

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEBUG = { TICKETHUB_DEBUG_CLI_PATH: '1' };

let tmp: string;
let project: string;

async function copyProject(to: string): Promise<void> {
  await mkdir(path.join(to, 'scripts'), { recursive: true });
  for (const entry of ['bin', 'cli', 'lib', 'db', 'messages', 'package.json', 'tsconfig.json', 'scripts/build-cli.mjs']) {
    await cp(path.join(ROOT, entry), path.join(to, entry), { recursive: true });
  }
  await mkdir(path.join(to, 'node_modules'));
  for (const name of await readdir(path.join(ROOT, 'node_modules'))) {
    if (name !== '.cache' && name !== '.bin') await symlink(path.join(ROOT, 'node_modules', name), path.join(to, 'node_modules', name));
  }
}

function run(root: string, args: string[], env: Record<string, string> = {}, cwd = root) {
  const clean = { ...process.env };
  for (const k of ['TICKETHUB_CLI_TSX', 'TICKETHUB_DEBUG_CLI_PATH', 'DATABASE_URL', 'TICKETHUB_DATA_DIR', 'MIGRATIONS_DIR']) delete clean[k];
  const r = spawnSync(process.execPath, [path.join(root, 'bin/tickethub-backup.mjs'), ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function build(root: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-cli.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ranBundle = (root: string) => `tickethub-backup: running the bundle ${path.join(bundleDir(root), 'cli.mjs')}\n`;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cli-bundle-'));
  project = path.join(tmp, 'project');
  await copyProject(project);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('bundled CLI', () => {
  it('runs from the bundle when it is fresh, without tsx', async () => {
    const b = build(project);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(freshBundle(project)).toEqual({ bundle: path.join(bundleDir(project), 'cli.mjs') });

    // No tsx at all: only the bundle can have answered.
    await unlink(path.join(project, 'node_modules/tsx'));
    try {
      const r = run(project, ['version'], DEBUG);
      expect(r.stderr).toBe(ranBundle(project));
      expect(r.stdout).toBe('tickethub-backup 0.1.0\n');
      expect(r.code).toBe(0);
      // Same help, same refusal of an unknown command as from the sources.
      const help = run(project, ['help']);
      expect(help.stdout).toBe(run(ROOT, ['help'], { TICKETHUB_CLI_TSX: '1' }).stdout);
      const unknown = run(project, ['nope']);
      expect([unknown.code, unknown.stderr]).toEqual([2, "tickethub-backup: unknown command 'nope' (see 'tickethub-backup help')\n"]);
      // A command reaching the embedded database finds .data under the project, not under
      // node_modules/.cache where the bundle lives, nor in the working directory.
      const noDb = run(project, ['reindex'], DEBUG, '/');
      expect(noDb.stderr).toBe(
        `${ranBundle(project)}tickethub-backup reindex: DATABASE_URL is not set and there is no local database in ${path.join(project, '.data')} (run \`npm start\` once, or set DATABASE_URL)\n`,
      );
      expect(noDb.code).toBe(1);
    } finally {
      await symlink(path.join(ROOT, 'node_modules/tsx'), path.join(project, 'node_modules/tsx'));
    }
  });

  it('an edited source runs as edited (through tsx) until the bundle is rebuilt; TICKETHUB_CLI_TSX=1 always runs the sources', async () => {
    expect(build(project).code).toBe(0);
    expect(run(project, ['version'], { TICKETHUB_CLI_TSX: '1', ...DEBUG }).stderr).toBe('tickethub-backup: running the sources through tsx (TICKETHUB_CLI_TSX=1)\n');

    const file = path.join(project, 'cli/commands/version.ts');
    await writeFile(file, (await readFile(file, 'utf8')).replace('`tickethub-backup ${APP_VERSION}\\n`', '`tickethub-backup ${APP_VERSION} (edited)\\n`'));
    const edited = run(project, ['version'], DEBUG);
    expect(edited.stderr).toBe('tickethub-backup: running the sources through tsx (cli/commands/version.ts changed since the bundle was built)\n');
    expect(edited.stdout).toBe('tickethub-backup 0.1.0 (edited)\n');

    expect(build(project).code).toBe(0);
    const rebuilt = run(project, ['version'], DEBUG);
    expect(rebuilt.stderr).toBe(ranBundle(project));
    expect(rebuilt.stdout).toBe('tickethub-backup 0.1.0 (edited)\n');

    // Same content, new modification time (a checkout, an editor saving unchanged): not trusted.
    await utimes(path.join(project, 'lib/errors.ts'), new Date(), new Date());
    expect(run(project, ['version'], DEBUG).stderr).toBe('tickethub-backup: running the sources through tsx (lib/errors.ts changed since the bundle was built)\n');
  });

  it('a bundle copied with node_modules to another checkout is not run there', async () => {
    expect(build(project).code).toBe(0);
    const copy = path.join(tmp, 'copy');
    await cp(project, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const r = run(copy, ['version'], DEBUG);
    expect(r.stderr).toBe(`tickethub-backup: running the sources through tsx (bundle built for ${project}, not ${copy})\n`);
    expect(r.stdout).toBe('tickethub-backup 0.1.0 (edited)\n');
  });

  it('without esbuild the install still succeeds (--if-possible) and the CLI runs its sources', async () => {
    await rm(bundleDir(project), { recursive: true }); // as in a fresh clone
    await unlink(path.join(project, 'node_modules/esbuild'));
    try {
      const soft = build(project, '--if-possible');
      expect(soft.code).toBe(0);
      expect(soft.stderr).toMatch(/^tickethub-backup: could not build the CLI bundle \(.*esbuild.*\); the CLI runs its sources through tsx\n$/);
      expect(build(project).code).toBe(1); // npm run build:cli says it failed
      const r = run(project, ['version'], DEBUG);
      expect(r.stderr).toBe(`tickethub-backup: running the sources through tsx (no bundle in ${bundleDir(project)} (npm run build:cli builds it))\n`);
      expect(r.code).toBe(0);
    } finally {
      await symlink(path.join(ROOT, 'node_modules/esbuild'), path.join(project, 'node_modules/esbuild'));
    }
  });
});
