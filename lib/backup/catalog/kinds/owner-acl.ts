import { quoteIdent } from '../quote-ident';

/**
 * Owner and privilege statements for the object kinds of this folder (owner + ACL as pg_dump
 * prints them: GRANT what the ACL has beyond the kind's default for the owner, REVOKE what it lacks).
 */

/** `ALTER <keyword> <target> OWNER TO <owner>;` */
export function ownerSql(keyword: string, target: string, owner: string | null): string {
  return owner ? `ALTER ${keyword} ${target} OWNER TO ${quoteIdent(owner)};\n` : '';
}

const PRIVILEGES: Record<string, string> = {
  a: 'INSERT', r: 'SELECT', w: 'UPDATE', d: 'DELETE', D: 'TRUNCATE', x: 'REFERENCES', t: 'TRIGGER',
  X: 'EXECUTE', U: 'USAGE', C: 'CREATE', c: 'CONNECT', T: 'TEMPORARY', m: 'MAINTAIN', s: 'SET', A: 'ALTER SYSTEM',
};

interface AclGrant { grantee: string; privilege: string; grantOption: boolean }

/** Parses aclitem text `grantee=privs/grantor` (grantee quoted as an identifier; empty = PUBLIC). */
export function parseAclItem(item: string): AclGrant[] {
  let i = 0;
  let grantee = '';
  if (item.startsWith('"')) {
    i = 1;
    while (i < item.length) {
      if (item[i] === '"' && item[i + 1] === '"') {
        grantee += '"';
        i += 2;
      } else if (item[i] === '"') {
        i++;
        break;
      } else grantee += item[i++];
    }
  } else {
    while (i < item.length && item[i] !== '=') grantee += item[i++];
  }
  const privs = item.slice(i + 1, item.indexOf('/', i + 1) < 0 ? undefined : item.indexOf('/', i + 1));
  const out: AclGrant[] = [];
  for (let k = 0; k < privs.length; k++) {
    const p = PRIVILEGES[privs[k]];
    if (!p) continue;
    const grantOption = privs[k + 1] === '*';
    if (grantOption) k++;
    out.push({ grantee: grantee === '' ? 'PUBLIC' : quoteIdent(grantee), privilege: p, grantOption });
  }
  return out;
}

/**
 * GRANT/REVOKE statements turning the kind's default ACL (`acldefault`) into `acl`. A null ACL
 * means "the default": nothing to print.
 */
export function aclSql(onWhat: string, acl: string[] | null, defaults: string[]): string {
  if (!acl) return '';
  const flat = (xs: string[]) => xs.flatMap(parseAclItem);
  const have = flat(acl);
  const dflt = flat(defaults);
  const k = (g: AclGrant) => `${g.grantee}\u0000${g.privilege}\u0000${g.grantOption}`;
  const haveSet = new Set(have.map(k));
  const dfltSet = new Set(dflt.map(k));
  let sql = '';
  for (const g of dflt) if (!haveSet.has(k(g))) sql += `REVOKE ${g.privilege} ON ${onWhat} FROM ${g.grantee};\n`;
  for (const g of have) {
    if (!dfltSet.has(k(g))) sql += `GRANT ${g.privilege} ON ${onWhat} TO ${g.grantee}${g.grantOption ? ' WITH GRANT OPTION' : ''};\n`;
  }
  return sql;
}
