import type { ErrorCode } from '../errors';

/** Every code an API route answers with (`{ error: { code, message } }`): one sentence each in messages apiErrors.<code>. */
const CODES: Record<ErrorCode, 'detail' | 'generic'> = {
  usage: 'detail',
  bad_request: 'detail',
  unauthorized: 'generic',
  forbidden: 'generic',
  not_found: 'detail',
  conflict: 'detail',
  rate_limited: 'generic',
  config: 'detail',
  db_unreachable: 'generic',
  db_auth: 'generic',
  db_permission: 'detail',
  db_error: 'detail',
  migration_failed: 'detail',
  storage: 'detail',
  corrupt: 'detail',
  incompatible: 'detail',
  verification_failed: 'detail',
  aborted: 'detail',
  internal: 'generic',
};
export const API_ERROR_CODES = Object.keys(CODES) as ErrorCode[];

/** A translator of the apiErrors namespace (useTranslations('apiErrors') / getTranslations). */
export type Translate = (key: string, values?: Record<string, string | number>) => string;

/**
 * What the dashboard says when an API call fails, in the viewer's language: the translated sentence
 * of the error's code, followed by the server's own message where it names something specific (a
 * backup id, a table, the checksum that failed: the technical detail stays as written). No answer
 * at all (`body` null) is a network failure; a body that is not our JSON error, or a code this
 * version does not know, gives the HTTP status.
 */
export function apiErrorText(t: Translate, body: unknown, status?: number): string {
  if (body === null || body === undefined) return status ? t('status', { status }) : t('network');
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' && Object.hasOwn(CODES, err.code) ? (err.code as ErrorCode) : null;
  if (!code) return t('status', { status: status ?? '?' });
  const detail = typeof err?.message === 'string' ? err.message.trim() : '';
  return CODES[code] === 'detail' && detail ? t('withDetail', { text: t(code), detail }) : t(code);
}
