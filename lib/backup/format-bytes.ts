// In a module of its own so that the CLI's restore and progress bar need not load the backup engine.
/** "2.1 MB" (binary units, one decimal): the size format of activity descriptions. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
