import { describe, expect, it } from 'vitest';
import { DUMMY_HASH, hashPassword, verifyDummy, verifyPassword } from '../../lib/auth/password';

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
    for (let i = 0; i < 5; i++) wrong.push(await cpuMs(() => verifyPassword(real, 'a wrong password')));
    const baseline = wrong.sort((a, b) => a - b)[2];
    const first = await cpuMs(() => verifyDummy('a wrong password'));
    expect(first / baseline).toBeLessThan(1.6);
    // ...and not much less either: a malformed dummy hash would fail fast (the opposite oracle).
    // Checked exactly rather than by timing (CPU time is too noisy for a lower bound): the dummy
    // hash has the same algorithm and cost parameters as a real one.
    const params = (h: string) => h.split('$').slice(1, 4).join('$');
    expect(params(DUMMY_HASH)).toBe(params(real));
    expect(params(real)).toBe('argon2id$v=19$m=19456,t=2,p=1');
    expect(await verifyDummy('the real password')).toBe(false);
  });
});
