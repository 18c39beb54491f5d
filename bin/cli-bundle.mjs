// The bundled CLI: cli/ and lib/ compiled into cli.mjs and the chunks it imports on demand
// (dependencies stay in node_modules), built by
// scripts/build-cli.mjs at `npm install` / `npm ci` (package.json "prepare") or `npm run build:cli`,
// beside a freshness record: every project file the bundle was built from, with its size and mtime.
// bin/tickethub-backup.mjs runs the bundle only while every one of those files is unchanged (and
// for the same project directory and Node major); otherwise the sources through tsx. Plain
// JavaScript, so the bin can check without loading tsx (~2 ms for ~170 files).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Bumped when the record's shape or the meaning of its fields changes. */
export const RECORD_VERSION = 1;

/** Where the bundle of the project in `root` lives (git-ignored with node_modules). */
export function bundleDir(root) {
  return path.join(root, 'node_modules', '.cache', 'tickethub-backup');
}

export const BUNDLE_FILE = 'cli.mjs';
export const RECORD_FILE = 'cli.json';

export function nodeMajor() {
  return Number(process.versions.node.split('.')[0]);
}

/** The size and modification time of a project file (`file` relative to `root`), or null when it is gone. */
export function fileStamp(root, file) {
  try {
    const st = statSync(path.join(root, file));
    return { path: file, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * Whether the bundle in `dir` may run for the project in `root`: `{ bundle: absolute path }`, or
 * `{ stale: why not }` (no bundle yet, built elsewhere or by another Node, a source file changed).
 */
export function freshBundle(root, dir = bundleDir(root)) {
  let record;
  try {
    record = JSON.parse(readFileSync(path.join(dir, RECORD_FILE), 'utf8'));
  } catch {
    return { stale: `no bundle in ${dir} (npm run build:cli builds it)` };
  }
  if (record?.version !== RECORD_VERSION || !Array.isArray(record.inputs) || record.inputs.length === 0 || !Array.isArray(record.outputs)) return { stale: `unknown freshness record ${path.join(dir, RECORD_FILE)}` };
  if (record.root !== root) return { stale: `bundle built for ${record.root}, not ${root}` };
  if (record.node !== nodeMajor()) return { stale: `bundle built by Node ${record.node}, this is Node ${nodeMajor()}` };
  for (const input of record.inputs) {
    const now = fileStamp(root, input.path);
    if (!now) return { stale: `${input.path} is gone since the bundle was built` };
    if (now.size !== input.size || now.mtimeMs !== input.mtimeMs) return { stale: `${input.path} changed since the bundle was built` };
  }
  for (const output of record.outputs) {
    const now = fileStamp(dir, output.path);
    if (now?.size !== output.size) return { stale: `${path.join(dir, output.path)} is not the file the bundle was built with` };
  }
  if (!record.outputs.some((o) => o.path === BUNDLE_FILE)) return { stale: `no ${BUNDLE_FILE} in ${dir}` };
  return { bundle: path.join(dir, BUNDLE_FILE) };
}
