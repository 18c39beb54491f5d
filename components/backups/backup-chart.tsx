'use client';

import { Bar, CartesianGrid, Cell, ComposedChart, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface ChartPoint {
  id: string;
  /** Short date for the axis and the table, already in the viewer's language and zone. */
  label: string;
  sizeMb: number | null;
  durationS: number | null;
  failed: boolean;
}

/**
 * Size (bars) and duration (line) of the last runs, failures as red bars. The chart itself is
 * hidden from assistive technology: the table under it (TextAlternative) carries the same data.
 */
export function BackupChart({ points, sizeLabel, durationLabel }: { points: ChartPoint[]; sizeLabel: string; durationLabel: string }) {
  return (
    <div aria-hidden className="h-56 w-full min-w-0">
      <ResponsiveContainer width="100%" height="100%">
        {/* No keyboard layer: the chart is hidden from assistive technology (the table carries its data). */}
        <ComposedChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} interval="preserveStartEnd" minTickGap={16} />
          <YAxis yAxisId="size" tick={{ fontSize: 11 }} width={40} />
          <YAxis yAxisId="duration" orientation="right" tick={{ fontSize: 11 }} width={40} />
          <Tooltip />
          <Bar yAxisId="size" dataKey="sizeMb" name={sizeLabel} isAnimationActive={false}>
            {points.map((p) => (
              <Cell key={p.id} fill={p.failed ? '#dc2626' : '#047857'} />
            ))}
          </Bar>
          <Line yAxisId="duration" dataKey="durationS" name={durationLabel} stroke="#1e293b" dot={{ r: 2 }} isAnimationActive={false} connectNulls />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
