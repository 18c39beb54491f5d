/**
 * Next.js calls register() once per server process. A long-lived server (`npm start`, `next start`)
 * runs the backup scheduler here; on Vercel (VERCEL set) functions are short-lived and Vercel Cron
 * calls /api/cron/daily-backup instead, and the Edge runtime cannot run it at all.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs' || process.env.VERCEL) return;
  const { startBackupScheduler } = await import('./lib/backup/start-scheduler');
  startBackupScheduler();
}
