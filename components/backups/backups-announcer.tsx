'use client';

import { useEffect, useRef, useState } from 'react';

/** The window event a row's actions send to the history's live region (see BackupsAnnouncer). */
const ANNOUNCE_EVENT = 'tickethub:backups-announce';

type Announcement = { text: string; ok: boolean };

/** Says `text` in the history's live region (which outlives the row that sends it) and moves focus there. */
export function announceInHistory(text: string, ok: boolean): void {
  window.dispatchEvent(new CustomEvent<Announcement>(ANNOUNCE_EVENT, { detail: { text, ok } }));
}

/**
 * The backup history's live region. A deleted backup's row — with the "Backup … deleted." message
 * it showed and the Delete button focus returned to — disappears when the page refreshes: the
 * message was never read out and focus fell back to the page's body. The region is always in the
 * page (a live region must exist before its text changes to be announced) and takes focus when it
 * speaks, so keyboard users continue from the history.
 */
export function BackupsAnnouncer() {
  const [message, setMessage] = useState<Announcement | null>(null);
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    const on = (e: Event) => setMessage((e as CustomEvent<Announcement>).detail);
    window.addEventListener(ANNOUNCE_EVENT, on);
    return () => window.removeEventListener(ANNOUNCE_EVENT, on);
  }, []);
  useEffect(() => {
    if (!message) return;
    // After the closing dialog has handed focus back to its opener (the Delete button, about to go).
    const t = setTimeout(() => ref.current?.focus(), 0);
    return () => clearTimeout(t);
  }, [message]);
  return (
    <p ref={ref} tabIndex={-1} role="status" data-testid="history-announcement" className={`mt-2 text-sm empty:hidden focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700 ${message?.ok === false ? 'text-red-700' : 'text-emerald-800'}`}>
      {message?.text ?? ''}
    </p>
  );
}
