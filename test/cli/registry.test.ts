import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/registry';

// The CLI's commands are a static list (cli/registry.ts), not a directory listing, so the CLI can
// run from one bundled file. A command file that the list misses would be a command nobody can run.

const ROOT = path.resolve(import.meta.dirname, '../..');

async function commandFiles(): Promise<string[]> {
  const files = await readdir(path.join(ROOT, 'cli/commands'));
  return files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => f.slice(0, -3)).sort();
}

describe('command registry', () => {
  it('lists every file under cli/commands, and nothing else', async () => {
    expect([...COMMANDS.keys()].sort()).toEqual(await commandFiles());
  });

  it('each entry loads its own file: a summary for help and a run function', async () => {
    for (const [name, load] of COMMANDS) {
      const mod = await load();
      expect(mod, name).toBe(await import(`../../cli/commands/${name}.ts`));
      expect(typeof mod.summary, name).toBe('string');
      expect(typeof mod.run, name).toBe('function');
    }
  });

  it('`tickethub-backup help` lists every command file with its summary; an unknown name is refused', async () => {
    const help = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help.status).toBe(0);
    const listed = help.stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(' ')[0]);
    expect(listed).toEqual(await commandFiles());
    expect(help.stdout).toContain('  version    print the version\n');

    const unknown = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'constructor'], { cwd: ROOT, encoding: 'utf8' });
    expect(unknown.stderr).toBe("tickethub-backup: unknown command 'constructor' (see 'tickethub-backup help')\n");
    expect(unknown.status).toBe(2);
  });
});
