import type { ReactNode } from 'react';

/** One number on the dashboard. `accent` marks a number that asks for action. */
export function StatCard({ label, value, icon, accent = false }: { label: string; value: string; icon: ReactNode; accent?: boolean }) {
  return (
    <div className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5" data-stat={label}>
      <div className="flex items-start justify-between gap-2">
        <p className="text-sm font-medium text-slate-500">{label}</p>
        <span aria-hidden className={`rounded-lg p-2 ${accent ? 'bg-amber-50 text-amber-600' : 'bg-emerald-50 text-emerald-700'}`}>{icon}</span>
      </div>
      <p className="mt-3 text-2xl font-semibold sm:text-3xl tabular-nums text-slate-900">{value}</p>
    </div>
  );
}
