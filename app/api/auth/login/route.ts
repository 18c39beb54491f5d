// POST /api/auth/login – sign in with {"email","password"}; sets the session cookie.
import { z } from 'zod';
import { createAdminSession } from '@/lib/auth/admin-sessions';
import { SESSION_TTL_SECONDS } from '@/lib/auth/session-options';
import { signIn } from '@/lib/auth/sign-in';
import { getPool } from '@/lib/db/pool';
import { clientIp } from '@/lib/http/client-ip';
import { errorResponse, jsonError } from '@/lib/http/error-response';
import { getSession } from '@/lib/http/session';

const LoginBody = z.object({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
});

export async function POST(req: Request): Promise<Response> {
  try {
    // Refuse before touching credentials when the session secret is unusable (config → 500).
    const session = await getSession();
    // JSON only: a cross-site HTML form can POST text/plain or urlencoded bodies that parse as JSON
    // without a CORS preflight, which would sign the victim's browser in to the attacker's account
    // (login CSRF). application/json cannot be sent cross-site without a preflight we never grant.
    const type = (req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      return jsonError(415, 'unsupported_media_type', 'Content-Type must be application/json');
    }
    let raw: unknown;
    try {
      raw = await req.json();
    } catch {
      return jsonError(400, 'bad_request', 'Request body must be JSON: {"email": "...", "password": "..."}');
    }
    const parsed = LoginBody.safeParse(raw);
    if (!parsed.success) return jsonError(400, 'bad_request', 'Request body must be JSON: {"email": "...", "password": "..."}');
    const ip = clientIp(req.headers);
    const userAgent = req.headers.get('user-agent');
    const admin = await signIn(getPool(), { ...parsed.data, ip, userAgent });
    session.sid = await createAdminSession(getPool(), admin.id, { ttlSeconds: SESSION_TTL_SECONDS, ip, userAgent });
    session.signedInAt = Date.now();
    await session.save();
    return Response.json({ user: { id: admin.id, email: admin.email, fullName: admin.fullName, role: admin.role } });
  } catch (err) {
    return errorResponse(err);
  }
}
