import { describe, expect, it } from 'vitest';
import { hashPassword, verifyDummy, verifyPassword } from '../../lib/auth/password';

// Sign-in with an unknown email verifies against a dummy hash so it costs what a wrong password
// costs. The dummy hash used to be computed lazily by the FIRST unknown-email attempt of a server
// process, which then took about twice as long (hash + verify): a timing oracle for account
// existence right after every restart. (Each Vitest file gets fresh modules, so this is that first call.)

// CPU time of this process (argon2 runs on libuv worker threads, which process.cpuUsage includes):
// unlike wall-clock time it does not swing when other processes load the machine.
const cpuMs = async (f: () => Promise<unknown>) => {
  const t = process.cpuUsage();
  await f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};

describe('unknown-email timing', () => {
  it('the first unknown-email check costs about one verify, not a hash plus a verify', async () => {
    const real = await hashPassword('the real password');
    const wrong: number[] = [];
    for (let i = 0; i < 3; i++) wrong.push(await cpuMs(() => verifyPassword(real, 'a wrong password')));
    const baseline = Math.min(...wrong);
    const first = await cpuMs(() => verifyDummy('a wrong password'));
    expect(first / baseline).toBeLessThan(1.6);
    // ...and not much less either (a malformed dummy hash would fail fast: the opposite oracle).
    expect(first / baseline).toBeGreaterThan(0.6);
    expect(await verifyDummy('the real password')).toBe(false);
  });
});
