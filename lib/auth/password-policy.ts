/**
 * What an admin password must not be (OWASP ASVS 2.1.7 in small, NIST SP 800-63B 5.1.1.2): the
 * accounts hold every customer's data and every backup, and "password" or "12345678" (8 characters,
 * so long enough) is the first guess of anyone who finds the sign-in page. The one gate is
 * upsertAdmin (the CLI, npm start's ADMIN_PASSWORD); the CLI and the launcher ask first to fail
 * before touching anything.
 */

/** The most common passwords of 8+ characters in public breach lists (compared case-insensitively). */
const COMMON = new Set([
  'password', 'password1', 'password12', 'password123', 'password!', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'pa$$word',
  '12345678', '123456789', '1234567890', '0123456789', '87654321', '11111111', '00000000', '12341234', '11223344',
  'qwertyui', 'qwertyuiop', 'qwerty123', 'qwerty12', '1q2w3e4r', '1q2w3e4r5t', 'q1w2e3r4', 'asdfghjk', 'asdfghjkl',
  'zxcvbnm1', '1qaz2wsx', 'zaq12wsx', 'abcd1234', 'abc12345', 'abcdefgh', 'aa123456', 'iloveyou', 'iloveyou1',
  'sunshine', 'princess', 'football', 'baseball', 'welcome1', 'welcome123', 'letmein1', 'trustno1', 'superman',
  'starwars', 'whatever', 'computer', 'michelle', 'jennifer', 'corvette', 'mercedes', 'internet', 'changeme',
  'changeme1', 'administrator', 'admin123', 'admin1234', 'admin12345', 'adminadmin', 'root1234', 'secret123',
  'tickethub', 'tickethub1', 'tickethub123', 'ethiopia', 'ethiopia1', 'addisababa',
]);

/** Why `password` cannot be an admin's password (for the account `email`), or null when it can. */
export function adminPasswordProblem(password: string, email?: string): string | null {
  if (password.length < 8) return 'must be at least 8 characters';
  const p = password.toLowerCase();
  if (COMMON.has(p)) return 'is one of the most common passwords: choose another (a few unrelated words are easy to remember and hard to guess)';
  if (/^(.)\1*$/su.test(password)) return 'is one character repeated: choose another';
  const e = email?.trim().toLowerCase();
  const name = e?.split('@')[0];
  // The email, or its name part with only digits or symbols after it (boss1234, boss@2026).
  if (e && (p === e || (name && p.replace(/[\d\W_]+$/u, '') === name))) return 'must not be the email address or its name part';
  return null;
}
