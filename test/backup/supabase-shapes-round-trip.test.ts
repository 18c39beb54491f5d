import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

/**
 * A Supabase-shaped security model (test/fixtures/h1-supabase-shapes.sql): RLS enabled and forced,
 * permissive and restrictive policies calling auth functions, security_invoker / security_barrier
 * views, SECURITY DEFINER functions with SET search_path, identity and serial sequences with grants,
 * column grants passed on by a non-owner grantor, default privileges FOR ROLE per schema, REVOKEs
 * from PUBLIC on schema, type, domain and function, an extension installed in a backed-up schema
 * with a changed member ACL, publications with a column list, a row filter and TABLES IN SCHEMA.
 * Through backup + verify + drill, our restore, --jobs 2 and gunzip | psql, each compared by
 * pg_dump -s of the whole database with owners and privileges.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('a Supabase-shaped security model round-trips by every path', async () => {
  await roundTripEveryPath('h1-supabase-shapes.sql', ['auth', 'app', 'priv'], cleanup);
}, 300_000);
