/**
 * Next.js calls register() once per server process. It installs the hook that gives route handlers
 * the real client address (lib/http/peer-address.ts: sign-in throttle, audit trail, HTTPS check).
 * A long-lived server (`npm start`, `next start`) also runs the backup scheduler here; on Vercel
 * (VERCEL set) functions are short-lived and Vercel Cron calls /api/cron/daily-backup instead, and
 * the Edge runtime cannot run either.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  // A misspelt BACKUP_*/TICKETHUB_* setting (BACKUP_ENCRYPTION_RECIPIENT for …RECIPIENTS) is
  // otherwise ignored in silence: said once per server process (npm start, next start, Vercel logs).
  const { unknownSettingWarnings } = await import('./lib/config/known-settings');
  for (const w of unknownSettingWarnings()) console.warn(`tickethub: warning: ${w}`);
  const { installPeerAddressHook } = await import('./lib/http/peer-address');
  await installPeerAddressHook();
  if (process.env.VERCEL) return;
  const { startBackupScheduler } = await import('./lib/backup/start-scheduler');
  startBackupScheduler();
}
