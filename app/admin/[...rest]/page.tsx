import { notFound } from 'next/navigation';
import { requireAdmin } from '@/lib/http/page-auth';

// Any unknown /admin/* path: sign-in first (so it reveals nothing), then 404 inside the shell.
export default async function UnknownAdminPage() {
  await requireAdmin();
  notFound();
}
