/** Where the app goes after sign-in when nothing (or nothing acceptable) was asked for. */
export const DEFAULT_AFTER_SIGN_IN = '/admin';

/**
 * The page to return to after sign-in, from the login page's `next` parameter: only a path of
 * this app under /admin (never another origin: `//evil.example`, `/\evil.example`,
 * `https://evil.example`, `javascript:` ...; never the login page itself). Anything else gives
 * DEFAULT_AFTER_SIGN_IN.
 */
export function safeNextPath(raw: string | string[] | null | undefined): string {
  const value = Array.isArray(raw) ? raw[0] : raw;
  // eslint-disable-next-line no-control-regex -- control characters in a path are refused
  if (!value || value.length > 2000 || !value.startsWith('/') || value.startsWith('//') || /[\\\u0000-\u001f]/.test(value)) return DEFAULT_AFTER_SIGN_IN;
  let u: URL;
  try {
    u = new URL(value, 'http://app.invalid');
  } catch {
    return DEFAULT_AFTER_SIGN_IN;
  }
  if (u.origin !== 'http://app.invalid') return DEFAULT_AFTER_SIGN_IN;
  if (!(u.pathname === '/admin' || u.pathname.startsWith('/admin/')) || u.pathname.startsWith('/admin/login')) return DEFAULT_AFTER_SIGN_IN;
  return `${u.pathname}${u.search}${u.hash}`;
}

/** The login page URL that comes back to `path` after sign-in. */
export function loginPathFor(path: string | null | undefined): string {
  const next = safeNextPath(path);
  return next === DEFAULT_AFTER_SIGN_IN ? '/admin/login' : `/admin/login?next=${encodeURIComponent(next)}`;
}
