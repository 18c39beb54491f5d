// Any unknown /api/admin/* path – 404 JSON (instead of Next's HTML 404 page), for every method.
import { jsonError } from '@/lib/http/error-response';

async function notFound(req: Request): Promise<Response> {
  return jsonError(404, 'not_found', `No API route ${req.method} ${new URL(req.url).pathname}`);
}

export const GET = notFound;
export const POST = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;
