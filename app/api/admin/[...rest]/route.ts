// Any unknown /api/admin/* path, every method: 401 JSON without a session (like every admin route:
// an anonymous caller learns nothing about which routes exist), 404 JSON with one.
import { errorResponse, jsonError } from '@/lib/http/error-response';
import { currentAdmin } from '@/lib/http/session';

async function notFound(req: Request): Promise<Response> {
  try {
    if (!(await currentAdmin())) return jsonError(401, 'unauthorized', 'Sign in required');
  } catch (err) {
    return errorResponse(err);
  }
  return jsonError(404, 'not_found', `No API route ${req.method} ${new URL(req.url).pathname}`);
}

export const GET = notFound;
export const POST = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;
