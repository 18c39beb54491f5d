import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../lib/errors';
import { describeStorage, openStorage } from '../../lib/storage/open-storage';
import { LocalStorage } from '../../lib/storage/local/local-storage';
import { S3Storage } from '../../lib/storage/s3/s3-storage';
import { startS3Server } from '../helpers/s3-server';
import type { TestS3Server } from '../helpers/s3-server';

let dir: string;
let server: TestS3Server;
const savedEnv = { ...process.env };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-open-'));
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const k of ['BACKUP_STORAGE_URL', ...Object.keys(server.env)]) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

function configError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('config');
    return err as AppError;
  }
  throw new Error('expected a config error');
}

describe('openStorage', () => {
  it('file:///abs/dir opens local storage there', async () => {
    const s = openStorage(`file://${dir}/via-url`);
    expect(s).toBeInstanceOf(LocalStorage);
    expect(s.location).toBe(`file://${dir}/via-url`);
    await s.put('a.sql.gz', Readable.from([Buffer.from('x')]));
    expect(await readdir(path.join(dir, 'via-url'))).toEqual(['a.sql.gz']);
  });

  it('an absolute path, and a relative path resolved against the working directory', () => {
    expect(openStorage(`${dir}/plain`).location).toBe(`file://${dir}/plain`);
    expect(openStorage('rel/backups').location).toBe(`file://${path.join(process.cwd(), 'rel/backups')}`);
    expect(openStorage('./rel').location).toBe(`file://${path.join(process.cwd(), 'rel')}`);
  });

  it('defaults to BACKUP_STORAGE_URL, else <cwd>/.data/backups', () => {
    delete process.env.BACKUP_STORAGE_URL;
    expect(openStorage().location).toBe(`file://${path.join(process.cwd(), '.data', 'backups')}`);
    process.env.BACKUP_STORAGE_URL = `file://${dir}/from-env`;
    expect(openStorage().location).toBe(`file://${dir}/from-env`);
    expect(openStorage('').location).toBe(`file://${dir}/from-env`);
  });

  it('s3://bucket/prefix opens S3 storage configured from AWS_* / S3_* variables', async () => {
    Object.assign(process.env, server.env);
    const s = openStorage(`s3://${server.bucket}/nightly/prod/`);
    expect(s).toBeInstanceOf(S3Storage);
    expect(s.location).toBe(`s3://${server.bucket}/nightly/prod`);
    await s.put('a.sql.gz', Readable.from([Buffer.from('s3!')]));
    expect((await s.list()).map((o) => o.key)).toEqual(['a.sql.gz']);
    await s.close();
    const whole = openStorage(`s3://${server.bucket}`);
    expect((await whole.list()).map((o) => o.key)).toContain('nightly/prod/a.sql.gz');
    await whole.close();
  });

  it('refuses unknown schemes, credentials in the URL, and malformed URLs with a config error', () => {
    expect(configError(() => openStorage('ftp://host/dir')).message).toBe(
      "unsupported storage URL scheme 'ftp:': use file:///dir, a directory path, or s3://bucket/prefix",
    );
    configError(() => openStorage('gs://bucket/x'));
    const cred = configError(() => openStorage('s3://AKIAXXX:supersecret@bucket/p'));
    expect(cred.message).not.toContain('supersecret');
    expect(cred.message).not.toContain('AKIAXXX');
    configError(() => openStorage('s3:///just-a-path'));
    configError(() => openStorage('s3://bucket/p?endpoint=http://x'));
    configError(() => openStorage('file://remotehost/dir'));
  });
});

describe('describeStorage', () => {
  it('shows the location without secrets', () => {
    expect(describeStorage('s3://bucket/a/b/')).toBe('s3://bucket/a/b');
    expect(describeStorage('s3://AKIAXXX:supersecret@bucket/p')).toBe('s3://bucket/p');
    expect(describeStorage(`file://${dir}/x`)).toBe(`file://${dir}/x`);
    expect(describeStorage('rel')).toBe(`file://${path.join(process.cwd(), 'rel')}`);
    expect(describeStorage('ftp://user:pw@host/x')).toBe('ftp://…');
  });
});
