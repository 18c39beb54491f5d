import { NotFoundMessage } from '@/components/not-found-message';

// Unknown /admin/* routes (after the session check) render this inside the admin shell.
export default function AdminNotFound() {
  return (
    <div className="rounded-xl border border-slate-200 bg-white px-6 py-14 text-center">
      <NotFoundMessage />
    </div>
  );
}
