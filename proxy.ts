import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';

// Must match SESSION_COOKIE in lib/auth/session-options.ts (kept literal: proxy stays dependency-free).
const SESSION_COOKIE = 'tickethub_session';
// Tells server components which page was asked for (requireAdmin's return-after-sign-in link).
const PATH_HEADER = 'x-tickethub-path';

/**
 * A fast first gate only: pages under /admin without any session cookie go straight to the login
 * page, which returns to the page asked for after sign-in (`?next=`, checked by safeNextPath). It
 * cannot tell a valid cookie from a forged one (no decryption here): the real check is in every
 * page (requireAdmin) and API route (withAdmin).
 */
export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  if (pathname === '/admin/login' || request.cookies.has(SESSION_COOKIE)) {
    const headers = new Headers(request.headers);
    headers.set(PATH_HEADER, `${pathname}${search}`);
    return NextResponse.next({ request: { headers } });
  }
  const login = new URL('/admin/login', request.url);
  if (pathname !== '/admin') login.searchParams.set('next', `${pathname}${search}`);
  return NextResponse.redirect(login);
}

export const config = {
  matcher: ['/admin', '/admin/:path*'],
};
