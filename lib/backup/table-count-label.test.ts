import { describe, expect, it } from 'vitest';
import { TICKETHUB_TABLES } from '../seed/seed-demo-data';
import { SYSTEM_TABLES, tableCountLabel } from './table-count-label';

const pub = (names: readonly string[]) => names.map((name) => ({ schema: 'public', name }));

describe('tableCountLabel', () => {
  it('labels TicketHub, system and other tables', () => {
    expect(tableCountLabel(pub([...TICKETHUB_TABLES, ...SYSTEM_TABLES]))).toBe('10 TicketHub tables + 6 system tables');
    expect(tableCountLabel(pub(TICKETHUB_TABLES))).toBe('10 TicketHub tables');
    expect(tableCountLabel([...pub([...TICKETHUB_TABLES, 'backup_runs']), { schema: 'audit', name: 'tickets' }])).toBe('10 TicketHub tables + 1 system table + 1 other table');
    expect(tableCountLabel(pub(['tickets']))).toBe('1 TicketHub table');
  });
  it('a database without TicketHub tables is just a count (a same-named table in another schema is not TicketHub)', () => {
    expect(tableCountLabel([{ schema: 'chinook', name: 'tickets' }, { schema: 'public', name: 'album' }])).toBe('2 tables');
    expect(tableCountLabel([])).toBe('0 tables');
  });
});
