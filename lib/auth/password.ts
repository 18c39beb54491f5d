import { hash, verify } from '@node-rs/argon2';

/**
 * Password hashing for admin users: argon2id with the OWASP Password Storage Cheat Sheet minimum
 * (m = 19 MiB, t = 2, p = 1). The parameters are stored inside the PHC string, so raising them later
 * keeps old hashes verifiable.
 */
const OPTIONS = { algorithm: 2 /* Algorithm.Argon2id: a const enum, not importable under isolatedModules */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`). */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/**
 * True when `password` matches `passwordHash`. A malformed hash counts as a mismatch rather than an
 * error, so a corrupt row can never sign anyone in nor crash the sign-in route.
 */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// A real argon2id hash (same parameters as OPTIONS) of 32 random bytes that were discarded at once,
// so no password matches it. Verifying against it when the email is unknown makes a miss cost as
// much time as a wrong password. It is a constant rather than computed on first use: a lazily
// computed hash made the first unknown-email attempt of each process take a hash plus a verify
// (about twice as long), revealing after a restart that an email has no account.
export const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$RBlcamcCnx+igDakjAtaTQ$Ww7GPol8gsKLIUZVFwr1qYFt9yFqkgtjp91XG0boPag';

/** Spends the same work as verifyPassword on a hash no password matches; always false. */
export async function verifyDummy(password: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, password);
  return false;
}
