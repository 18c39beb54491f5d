import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { logActivity } from '../../lib/activity/log-activity';
import { ADMIN_ROLES, findAdminByEmail, upsertAdmin, type AdminRole } from '../../lib/auth/admin-users';
import { openCliDatabase, type LocalDatabase } from '../../lib/db/local-database';
import { adminPasswordProblem } from '../../lib/auth/password-policy';
import { AppError, toAppError } from '../../lib/errors';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'create an admin user or reset an admin password';

const USAGE = `Usage:
  tickethub-backup admin create --email EMAIL [--name NAME] [--role super_admin|admin|staff] [--password P | --password-stdin]
  tickethub-backup admin reset-password --email EMAIL [--password P | --password-stdin]

  The password comes from --password, else the first line of stdin with --password-stdin, else the
  ADMIN_PASSWORD environment variable; without any of them a strong password is generated and
  printed once. At least 8 characters. New admins get the role 'admin' unless --role says otherwise.
  Database: DATABASE_URL, or --database-url, else the local database of \`npm start\` (.data/pg).`;

// Usage errors are one line (the dispatcher prints one line): the problem, then this synopsis.
const SYNOPSIS = 'usage: tickethub-backup admin create|reset-password --email EMAIL [options] (see --help)';

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

/** The password to set and whether we generated it (then it must be printed). */
async function choosePassword(values: { password?: string; 'password-stdin'?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (values.password !== undefined && values['password-stdin']) throw new AppError('usage', 'use either --password or --password-stdin, not both');
  if (values.password !== undefined) return { password: values.password, generated: false };
  if (values['password-stdin']) {
    const line = await readStdinLine();
    if (!line) throw new AppError('usage', '--password-stdin: no password on stdin');
    return { password: line, generated: false };
  }
  if (process.env.ADMIN_PASSWORD) return { password: process.env.ADMIN_PASSWORD, generated: false };
  return { password: randomBytes(15).toString('base64url'), generated: true };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'database-url': { type: 'string' },
    },
    SYNOPSIS,
    2,
  ) as { values: { email?: string; name?: string; role?: string; password?: string; 'password-stdin'?: boolean; 'database-url'?: string; help?: boolean }; positionals: string[] };
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [sub, extra] = positionals;
  if (sub !== 'create' && sub !== 'reset-password') throw new AppError('usage', `${sub ? `unknown admin subcommand '${sub}'` : 'missing subcommand'}; ${SYNOPSIS}`);
  if (extra !== undefined) throw new AppError('usage', `unexpected argument '${extra}'; ${SYNOPSIS}`);
  if (!values.email) throw new AppError('usage', `--email is required; ${SYNOPSIS}`);
  if (sub === 'reset-password' && (values.name !== undefined || values.role !== undefined)) throw new AppError('usage', 'reset-password changes only the password (no --name/--role)');
  const role = (values.role ?? 'admin') as AdminRole;
  if (!ADMIN_ROLES.includes(role)) throw new AppError('usage', `unknown role '${values.role}' (expected ${ADMIN_ROLES.join(', ')})`);
  const { password, generated } = await choosePassword(values);
  const weak = adminPasswordProblem(password, values.email);
  if (weak) throw new AppError('usage', `admin password ${weak}`);

  const db: LocalDatabase = await openCliDatabase(values['database-url']);
  if (values['database-url'] !== undefined) process.env.DATABASE_URL = db.url;
  const client = new pg.Client({ connectionString: db.url, application_name: 'tickethub-cli' });
  try {
    try {
      await client.connect();
    } catch (err) {
      throw toAppError(err, 'cannot connect to the database');
    }
    client.on('error', () => {});
    const existing = await findAdminByEmail(client, values.email);
    if (sub === 'create' && existing) {
      throw new AppError('conflict', `an admin with email ${existing.email} already exists (use \`admin reset-password --email ${existing.email}\`)`);
    }
    if (sub === 'reset-password' && !existing) throw new AppError('not_found', `no admin with email ${values.email}`);
    // One transaction: the account change and its audit entry land together.
    await client.query('BEGIN');
    const { user } = await upsertAdmin(client, {
      email: existing?.email ?? values.email,
      password,
      fullName: sub === 'create' ? values.name : existing!.fullName,
      role: sub === 'create' ? role : existing!.role,
    });
    await logActivity(client, {
      action: sub === 'create' ? 'ADMIN_CREATED' : 'ADMIN_PASSWORD_RESET',
      entityType: 'admin_user',
      entityId: user.id,
      description: sub === 'create' ? `Created ${user.role} ${user.email} from the CLI` : `Reset the password of ${user.email} from the CLI`,
      ipAddress: 'cli',
      userAgent: 'tickethub-backup-cli',
      metadata: { email: user.email, role: user.role, generatedPassword: generated },
    });
    await client.query('COMMIT');
    process.stdout.write(sub === 'create' ? `created ${user.role} ${user.email} (${user.fullName})\n` : `password of ${user.email} reset${existing && !existing.isActive ? ' (account re-activated)' : ''}\n`);
    if (generated) process.stdout.write(`password: ${password}\n(shown once: store it now)\n`);
    return 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
    await db.close();
  }
}
