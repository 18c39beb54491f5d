// Any unknown /api/admin/* path, every method: 401 JSON without a session (like every admin route:
// an anonymous caller learns nothing about which routes exist), 404 JSON with one.
import { jsonError } from '@/lib/http/error-response';
import { afterSessionCheck } from '@/lib/http/with-admin';

const notFound = (req: Request) => afterSessionCheck(() => jsonError(404, 'not_found', `No API route ${req.method} ${new URL(req.url).pathname}`));

export const GET = notFound;
export const POST = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;
