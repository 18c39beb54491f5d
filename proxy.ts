import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';

// Must match SESSION_COOKIE in lib/auth/session-options.ts (kept literal: proxy stays dependency-free).
const SESSION_COOKIE = 'tickethub_session';

/**
 * A fast first gate only: pages under /admin without any session cookie go straight to the login
 * page. It cannot tell a valid cookie from a forged one (no decryption here): the real check is
 * in every page (requireAdmin) and API route (withAdmin).
 */
export function proxy(request: NextRequest) {
  const { pathname } = request.nextUrl;
  if (pathname === '/admin/login' || request.cookies.has(SESSION_COOKIE)) return NextResponse.next();
  return NextResponse.redirect(new URL('/admin/login', request.url));
}

export const config = {
  matcher: ['/admin', '/admin/:path*'],
};
