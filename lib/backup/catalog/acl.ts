import { dollarQuote, quoteIdent, quoteLiteral } from './quote-ident';

/**
 * Owner, privilege and comment statements for dumped objects, written the way pg_dump writes them
 * (its buildACLCommands / parseAclItem in dumputils.c, and the `ALTER ... OWNER TO` of
 * pg_backup_archiver.c), so every object kind dumper shares one implementation.
 *
 * Typical use by an object-kind dumper:
 *
 *   sql += ownerStatement('FUNCTION', 'public.f(a integer)', row.owner);
 *   acl += buildAclCommands({ type: 'FUNCTION', name: 'public.f(a integer)', owner: row.owner },
 *                           row.acl, row.acldefault, { serverVersionNum });
 *
 * where `row.acl` is the catalog's aclitem[] as text[] (`proacl::text[]`, NULL when never granted)
 * and `row.acldefault` is `pg_catalog.acldefault('f', proowner)::text[]`.
 */

/**
 * The ACL keyword of an object kind (pg_dump's `type` argument): what follows `GRANT ... ON`. The
 * plural ones are for `ALTER DEFAULT PRIVILEGES`. Views, materialized views and foreign tables use
 * 'TABLE', aggregates 'FUNCTION', domains 'TYPE' (as pg_dump does).
 */
export type AclType =
  | 'TABLE'
  | 'SEQUENCE'
  | 'FUNCTION'
  | 'PROCEDURE'
  | 'SCHEMA'
  | 'TYPE'
  | 'LANGUAGE'
  | 'LARGE OBJECT'
  | 'FOREIGN DATA WRAPPER'
  | 'FOREIGN SERVER'
  | 'DATABASE'
  | 'TABLESPACE'
  | 'PARAMETER'
  | 'TABLES'
  | 'SEQUENCES'
  | 'FUNCTIONS'
  | 'ROUTINES'
  | 'TYPES'
  | 'SCHEMAS';

/** One parsed aclitem: `grantee=privs/grantor`; grantee '' is PUBLIC. `privs` keeps the letters and their '*' (grant option). */
export interface AclItem {
  grantee: string;
  grantor: string;
  privs: string;
}

/** Privilege letters of each ACL type, in pg_dump's output order (CONVERT_PRIV order in parseAclItem). */
function privilegeLetters(type: AclType, column: boolean, serverVersionNum: number): [string, string][] {
  switch (type) {
    case 'TABLE':
    case 'TABLES': {
      if (column) return [['r', 'SELECT'], ['a', 'INSERT'], ['x', 'REFERENCES'], ['w', 'UPDATE']];
      const l: [string, string][] = [['r', 'SELECT'], ['a', 'INSERT'], ['x', 'REFERENCES'], ['d', 'DELETE'], ['t', 'TRIGGER'], ['D', 'TRUNCATE']];
      // MAINTAIN exists from PostgreSQL 17: on older servers a table's "all privileges" lack it.
      if (serverVersionNum >= 170000) l.push(['m', 'MAINTAIN']);
      l.push(['w', 'UPDATE']);
      return l;
    }
    case 'SEQUENCE':
    case 'SEQUENCES':
      return [['r', 'SELECT'], ['U', 'USAGE'], ['w', 'UPDATE']];
    case 'FUNCTION':
    case 'FUNCTIONS':
    case 'PROCEDURE':
    case 'ROUTINES':
      return [['X', 'EXECUTE']];
    case 'SCHEMA':
    case 'SCHEMAS':
      return [['C', 'CREATE'], ['U', 'USAGE']];
    case 'DATABASE':
      return [['C', 'CREATE'], ['c', 'CONNECT'], ['T', 'TEMPORARY']];
    case 'TABLESPACE':
      return [['C', 'CREATE']];
    case 'LARGE OBJECT':
      return [['r', 'SELECT'], ['w', 'UPDATE']];
    case 'PARAMETER':
      return [['s', 'SET'], ['A', 'ALTER SYSTEM']];
    default: // TYPE(S), LANGUAGE, FOREIGN DATA WRAPPER, FOREIGN SERVER
      return [['U', 'USAGE']];
  }
}

/** Reads a role name as aclitem output writes it (putid: double-quoted when not plain alphanumerics/_ , quotes doubled). */
function readName(s: string, at: number): [string, number] {
  if (s[at] !== '"') {
    let end = at;
    while (end < s.length && s[end] !== '=' && s[end] !== '/') end++;
    return [s.slice(at, end), end];
  }
  let out = '';
  let i = at + 1;
  for (;;) {
    if (i >= s.length) throw new Error(`unterminated quoted name in aclitem ${JSON.stringify(s)}`);
    if (s[i] === '"') {
      if (s[i + 1] === '"') {
        out += '"';
        i += 2;
        continue;
      }
      return [out, i + 1];
    }
    out += s[i++];
  }
}

/** Parses one aclitem's text form, e.g. `"my role"=r*w/postgres` or `=U/owner` (PUBLIC). */
export function parseAclItem(text: string): AclItem {
  const [grantee, eq] = readName(text, 0);
  if (text[eq] !== '=') throw new Error(`malformed aclitem ${JSON.stringify(text)}`);
  const slash = text.indexOf('/', eq + 1);
  if (slash < 0) throw new Error(`malformed aclitem ${JSON.stringify(text)}`);
  const [grantor] = readName(text, slash + 1);
  return { grantee, grantor, privs: text.slice(eq + 1, slash) };
}

/** Every role an ACL names (grantees and grantors; PUBLIC is not a role). */
export function aclRoles(acl: readonly string[] | null | undefined): string[] {
  const out = new Set<string>();
  for (const t of acl ?? []) {
    const it = parseAclItem(t);
    if (it.grantee) out.add(it.grantee);
    if (it.grantor) out.add(it.grantor);
  }
  return [...out];
}

function privilegeLists(item: AclItem, type: AclType, column: string | undefined, serverVersionNum: number, withGrantOption: boolean): { privs: string; privsWgo: string } {
  const privs: string[] = [];
  const wgo: string[] = [];
  let allWithGo = true;
  let allWithoutGo = true;
  const add = (list: string[], kw: string) => list.push(column !== undefined ? `${kw}(${column})` : kw);
  for (const [code, kw] of privilegeLetters(type, column !== undefined, serverVersionNum)) {
    const pos = item.privs.indexOf(code);
    if (pos < 0) {
      allWithGo = allWithoutGo = false;
    } else if (item.privs[pos + 1] === '*' && withGrantOption) {
      add(wgo, kw);
      allWithoutGo = false;
    } else {
      add(privs, kw);
      allWithGo = false;
    }
  }
  const all = column !== undefined ? `ALL(${column})` : 'ALL';
  if (allWithGo) return { privs: '', privsWgo: all };
  if (allWithoutGo) return { privs: all, privsWgo: '' };
  return { privs: privs.join(','), privsWgo: wgo.join(',') };
}

/** What a set of GRANT/REVOKE statements is about. */
export interface AclTarget {
  type: AclType;
  /** The object as written after `ON <type>`: qualified and quoted ('public.t', 'public.f(a integer)'); '' for ALTER DEFAULT PRIVILEGES. */
  name: string;
  /** Quoted column name, for column privileges (then `type` is 'TABLE'). */
  column?: string;
  /** The object's owner (role name), or null when unknown: a grantor other than the owner needs SET ROLE. */
  owner: string | null;
}

export interface AclOptions {
  /** server_version_num of the source (decides whether a table's ALL includes MAINTAIN). */
  serverVersionNum: number;
  /** Put before GRANT/REVOKE, e.g. 'ALTER DEFAULT PRIVILEGES FOR ROLE x IN SCHEMA s '. */
  prefix?: string;
}

/**
 * The GRANT/REVOKE statements that turn an object whose ACL is `base` into one whose ACL is `acl`,
 * exactly as pg_dump's buildACLCommands writes them: items present in both are skipped, then one
 * REVOKE per remaining base item, then per remaining item a GRANT (and a GRANT ... WITH GRANT
 * OPTION), wrapped in SET ROLE / RESET ROLE when its grantor is not the owner (pg_dump: SET SESSION
 * AUTHORIZATION, which only a superuser may run). Unlike pg_dump, when that replay would give the
 * entries in another order than `acl`'s, every base item is revoked and every item granted in order.
 *
 * `acl` null means "never changed" (the catalog's NULL): nothing is printed. `base` is usually
 * `acldefault(<kind>, owner)`; '{}' (empty) for columns and per-schema default privileges.
 * Returns '' when there is nothing to do; otherwise statements each ending in ';\n'.
 */
export function buildAclCommands(target: AclTarget, acl: readonly string[] | null | undefined, base: readonly string[] | null | undefined, opts: AclOptions): string {
  const diff = aclDiff(acl, base);
  if (!diff) return '';
  const prefix = opts.prefix ?? '';
  const on = `ON ${target.type}${target.name ? ` ${target.name}` : ''}`;
  const who = (role: string) => (role ? quoteIdent(role) : 'PUBLIC');
  // MAINTAIN (PostgreSQL 17) named in a list, not inside ALL: its own statement, run only on 17 and
  // later. A 15 target has no such privilege (its owners do not hold it either): the archive of a
  // 17 database whose owner revoked some of its own privileges, or granted MAINTAIN, then restores
  // there (and through psql) instead of failing on "unrecognized privilege type maintain".
  const statement = (verb: 'GRANT' | 'REVOKE', list: string, tail: string): string => {
    const parts = list.split(',');
    if (!parts.includes('MAINTAIN')) return `${prefix}${verb} ${list} ${on} ${tail};\n`;
    const rest = parts.filter((p) => p !== 'MAINTAIN');
    const maintain = `${prefix}${verb} MAINTAIN ${on} ${tail}`;
    return `${rest.length ? `${prefix}${verb} ${rest.join(',')} ${on} ${tail};\n` : ''}DO ${dollarQuote(`BEGIN IF pg_catalog.current_setting('server_version_num')::int >= 170000 THEN EXECUTE ${quoteLiteral(maintain)}; END IF; END`)};\n`;
  };
  let sql = '';
  for (const it of diff.revokes) {
    const { privs } = privilegeLists(it, target.type, target.column, opts.serverVersionNum, false);
    if (privs) sql += statement('REVOKE', privs, `FROM ${who(it.grantee)}`);
  }
  for (const it of diff.grants) {
    const { privs, privsWgo } = privilegeLists(it, target.type, target.column, opts.serverVersionNum, true);
    if (!privs && !privsWgo) continue;
    const asOther = grantedByOther(it, target);
    // SET ROLE, not pg_dump's SET SESSION AUTHORIZATION: that needs a superuser, and a Supabase
    // project's "postgres" is not one (a grant made by another grantor failed every restore there,
    // and gunzip | psql); SET ROLE needs membership in the grantor, which a superuser always has.
    if (asOther) sql += `SET ROLE ${quoteIdent(it.grantor)};\n`;
    if (privs) sql += statement('GRANT', privs, `TO ${who(it.grantee)}`);
    if (privsWgo) sql += statement('GRANT', privsWgo, `TO ${who(it.grantee)} WITH GRANT OPTION`);
    if (asOther) sql += 'RESET ROLE;\n';
  }
  return sql;
}

/**
 * The roles the statements of buildAclCommands name (grantees of its REVOKEs and GRANTs, grantors
 * it becomes with SET ROLE): what a restore of them needs to exist. An owner whose
 * own privileges are unchanged is not named.
 */
export function aclStatementRoles(target: Pick<AclTarget, 'owner'>, acl: readonly string[] | null | undefined, base: readonly string[] | null | undefined): string[] {
  const diff = aclDiff(acl, base);
  if (!diff) return [];
  const out = new Set<string>();
  for (const it of [...diff.revokes, ...diff.grants]) if (it.grantee) out.add(it.grantee);
  for (const it of diff.grants) if (grantedByOther(it, target)) out.add(it.grantor);
  return [...out];
}

function grantedByOther(it: AclItem, target: Pick<AclTarget, 'owner'>): boolean {
  return it.grantor !== '' && target.owner !== null && it.grantor !== target.owner;
}

/** pg_dump's comparison: items in both lists cancel out; base leftovers are revoked, acl leftovers granted. Null: ACL never set. */
function aclDiff(acl: readonly string[] | null | undefined, base: readonly string[] | null | undefined): { revokes: AclItem[]; grants: AclItem[] } | null {
  if (acl === null || acl === undefined) return null;
  const items: (string | null)[] = [...acl];
  const baseItems: (string | null)[] = [...(base ?? [])];
  for (let i = 0; i < items.length; i++) {
    const j = baseItems.indexOf(items[i]);
    if (j >= 0) {
      items[i] = null;
      baseItems[j] = null;
    }
  }
  const parse = (xs: (string | null)[]) => xs.filter((x): x is string => x !== null).map(parseAclItem);
  const revokes = parse(baseItems);
  const grants = parse(items);
  // Replayed, the kept base items stay first in base order and each GRANT appends its item. When
  // the source's order is another (the owner's own privileges revoked and granted back after a
  // grant, or given by default privileges that revoke them), everything is revoked and granted in
  // the source's order: the restored ACL is then the same array, not only the same set (a drill
  // compares it as stored).
  const kept = (base ?? []).filter((x, i) => baseItems[i] === null);
  const inOrder = kept.every((x, i) => acl[i] === x);
  if (inOrder || (!revokes.length && !grants.length)) return { revokes, grants };
  return { revokes: (base ?? []).map(parseAclItem), grants: acl.map(parseAclItem) };
}

/**
 * The keyword `ALTER <keyword> ... OWNER TO` takes for an object kind named as pg_dump names it
 * ('TABLE', 'VIEW', 'SEQUENCE', 'MATERIALIZED VIEW', 'FUNCTION', 'TYPE', 'DOMAIN', ...): pg_dump
 * writes ALTER TABLE for views, materialized views and sequences; every other kind is its own keyword.
 */
export function ownerKeyword(kind: string): string {
  return kind === 'VIEW' || kind === 'SEQUENCE' || kind === 'MATERIALIZED VIEW' ? 'TABLE' : kind;
}

/**
 * `ALTER <kind> <name> OWNER TO <owner>;\n`, as pg_dump prints after each owned object.
 * `name` is already qualified and quoted (for routines: with the identity argument list).
 */
export function ownerStatement(kind: string, name: string, owner: string): string {
  return `ALTER ${ownerKeyword(kind)} ${name} OWNER TO ${quoteIdent(owner)};\n`;
}

/** `COMMENT ON <target> IS '<text>';\n` (target e.g. 'TABLE public.t', 'COLUMN public.t.c'). */
export function commentStatement(target: string, text: string): string {
  return `COMMENT ON ${target} IS ${quoteLiteral(text)};\n`;
}
