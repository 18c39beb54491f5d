#!/usr/bin/env bash
# Runs a test command (default: npm test) with TMPDIR set to a fresh directory, then fails when
# anything other than tool caches is left in it: tests must remove the temp directories they make
# (test/helpers/temp-dirs.ts) and the engine its spool directories.
#   scripts/check-test-tmp.sh npx vitest run test/migrate.test.ts
set -uo pipefail
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tickethub-test-tmp.XXXXXX") || exit 1
chmod 1777 "$tmp" # the embedded server's postgres user enters data directories made in here
[ $# -gt 0 ] || set -- npm test
TMPDIR="$tmp" "$@"
status=$?
# Caches kept on purpose: tsx's compile cache, @sparticuz/chromium's unpacked browser, its shared
# libraries (libEGL, libGLESv2, SwiftShader, Vulkan), locales and fonts, the next-build lock's
# readers directory (test/helpers/app-server.ts).
leftovers=$(find "$tmp" -mindepth 1 -maxdepth 1 \
  ! -name 'tsx-*' ! -name 'chromium' ! -name 'chromium-pack' ! -name 'fonts' ! -name 'al2023' \
  ! -name 'lib*.so' ! -name 'lib*.so.*' ! -name 'locales' ! -name 'vk_swiftshader_icd.json' \
  ! -name 'tickethub-next-build-*' -printf '%f\n' | sort)
if [ -n "$leftovers" ]; then
  printf '!!! left in the temp directory by the tests (%s entries):\n%s\n' "$(printf '%s\n' "$leftovers" | wc -l)" "$(printf '%s\n' "$leftovers" | sed 's/^/  /' | head -40)" >&2
  [ "$status" -ne 0 ] || status=1
fi
rm -rf "$tmp"
exit "$status"
