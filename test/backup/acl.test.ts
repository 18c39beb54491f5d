import { describe, expect, it } from 'vitest';
import { aclRoles, buildAclCommands, ownerStatement, parseAclItem } from '../../lib/backup/catalog/acl';

const v15 = { serverVersionNum: 150000 };
const v17 = { serverVersionNum: 170000 };

describe('aclitem parsing', () => {
  it('reads PUBLIC, quoted names with doubled quotes and grant options', () => {
    expect(parseAclItem('=U/postgres')).toEqual({ grantee: '', grantor: 'postgres', privs: 'U' });
    expect(parseAclItem('"my ""odd"" role"=r*w/"Owner X"')).toEqual({ grantee: 'my "odd" role', grantor: 'Owner X', privs: 'r*w' });
    expect(aclRoles(['=U/postgres', 'anon=r/postgres'])).toEqual(['postgres', 'anon']);
  });
});

describe('buildAclCommands (pg_dump buildACLCommands)', () => {
  const table = { type: 'TABLE' as const, name: 'public.t', owner: 'postgres' };
  it('prints nothing for a never-granted object (NULL ACL) or an unchanged one', () => {
    expect(buildAclCommands(table, null, ['postgres=arwdDxt/postgres'], v15)).toBe('');
    expect(buildAclCommands(table, ['postgres=arwdDxt/postgres'], ['postgres=arwdDxt/postgres'], v15)).toBe('');
  });
  it('grants ALL, lists partial privileges in pg_dump order, and WITH GRANT OPTION separately', () => {
    const acl = ['postgres=arwdDxt/postgres', 'anon=arwdDxt/postgres', 'authenticated=rw/postgres', 'svc=r*a/postgres', 'boss=a*r*w*d*D*x*t*/postgres'];
    expect(buildAclCommands(table, acl, ['postgres=arwdDxt/postgres'], v15)).toBe(
      'GRANT ALL ON TABLE public.t TO anon;\n' +
        'GRANT SELECT,UPDATE ON TABLE public.t TO authenticated;\n' +
        'GRANT INSERT ON TABLE public.t TO svc;\n' +
        'GRANT SELECT ON TABLE public.t TO svc WITH GRANT OPTION;\n' +
        'GRANT ALL ON TABLE public.t TO boss WITH GRANT OPTION;\n',
    );
  });
  it('revokes from PUBLIC and from a reduced owner, then re-grants what is left', () => {
    const fn = { type: 'FUNCTION' as const, name: 'public.f(a integer)', owner: 'app' };
    expect(buildAclCommands(fn, ['app=X/app', 'service_role=X/app'], ['=X/app', 'app=X/app'], v15)).toBe(
      'REVOKE ALL ON FUNCTION public.f(a integer) FROM PUBLIC;\nGRANT ALL ON FUNCTION public.f(a integer) TO service_role;\n',
    );
    expect(buildAclCommands(table, ['postgres=r/postgres'], ['postgres=arwdDxt/postgres'], v15)).toBe(
      'REVOKE ALL ON TABLE public.t FROM postgres;\nGRANT SELECT ON TABLE public.t TO postgres;\n',
    );
  });
  it('keeps the order of the entries: an owner entry after a grant is revoked and granted back in place', () => {
    // Replayed, kept base entries stay first and each GRANT appends: the restored array equals the source's.
    expect(buildAclCommands(table, ['reader=r/postgres', 'postgres=arwdDxt/postgres'], ['postgres=arwdDxt/postgres'], v15)).toBe(
      'REVOKE ALL ON TABLE public.t FROM postgres;\nGRANT SELECT ON TABLE public.t TO reader;\nGRANT ALL ON TABLE public.t TO postgres;\n',
    );
    // The same set as the default in another order prints nothing (pg_dump: unchanged).
    const fn = { type: 'FUNCTION' as const, name: 'public.f()', owner: 'app' };
    expect(buildAclCommands(fn, ['app=X/app', '=X/app'], ['=X/app', 'app=X/app'], v15)).toBe('');
  });
  it('column privileges, other grantors and MAINTAIN on 17', () => {
    expect(buildAclCommands({ ...table, column: 'email' }, ['anon=rw/postgres'], [], v15)).toBe('GRANT SELECT(email),UPDATE(email) ON TABLE public.t TO anon;\n');
    expect(buildAclCommands(table, ['b=r/a'], [], v15)).toBe('SET ROLE a;\nGRANT SELECT ON TABLE public.t TO b;\nRESET ROLE;\n');
    expect(buildAclCommands(table, ['x=arwdDxtm/postgres'], [], v17)).toBe('GRANT ALL ON TABLE public.t TO x;\n');
    expect(buildAclCommands(table, ['x=arwdDxt/postgres'], [], v17)).toBe('GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.t TO x;\n');
  });
  it('MAINTAIN named in a list (not in ALL) is its own statement, run only on PostgreSQL 17 and later', () => {
    const guard = (stmt: string) => `DO $th$BEGIN IF pg_catalog.current_setting('server_version_num')::int >= 170000 THEN EXECUTE '${stmt}'; END IF; END$th$;\n`;
    // An owner that revoked DELETE and TRUNCATE from itself on 17: the rest, and MAINTAIN guarded.
    expect(buildAclCommands({ ...table, owner: 'app' }, ['app=arwxtm/app'], ['app=arwdDxtm/app'], v17)).toBe(
      `REVOKE ALL ON TABLE public.t FROM app;\nGRANT SELECT,INSERT,REFERENCES,TRIGGER,UPDATE ON TABLE public.t TO app;\n${guard('GRANT MAINTAIN ON TABLE public.t TO app')}`,
    );
    expect(buildAclCommands(table, ['x=m*/postgres'], [], v17)).toBe(guard('GRANT MAINTAIN ON TABLE public.t TO x WITH GRANT OPTION'));
    const d = { type: 'TABLES' as const, name: '', owner: null };
    expect(buildAclCommands(d, ['anon=rm/postgres'], [], { ...v17, prefix: 'ALTER DEFAULT PRIVILEGES FOR ROLE postgres ' })).toBe(
      `ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT ON TABLES TO anon;\n${guard('ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT MAINTAIN ON TABLES TO anon')}`,
    );
  });
  it('default privileges with a prefix and no object name', () => {
    const d = { type: 'TABLES' as const, name: '', owner: null };
    expect(buildAclCommands(d, ['anon=r/postgres'], [], { ...v15, prefix: 'ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public ' })).toBe(
      'ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO anon;\n',
    );
  });
  it('owner statements use ALTER TABLE for views and sequences, as pg_dump', () => {
    expect(ownerStatement('VIEW', 'public.v', 'My Role')).toBe('ALTER TABLE public.v OWNER TO "My Role";\n');
    expect(ownerStatement('FUNCTION', 'public.f()', 'app')).toBe('ALTER FUNCTION public.f() OWNER TO app;\n');
  });
});
