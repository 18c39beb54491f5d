/** One archive member of the schema dump (its own module: dump-schema and order-objects both use it). */
export interface DumpObject {
  section: 'pre-data' | 'post-data';
  /** pg_dump's names: 'SCHEMA', 'EXTENSION', 'TYPE', 'DOMAIN', 'SEQUENCE', 'TABLE', 'TABLE ATTACH', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'VIEW', 'MATERIALIZED VIEW', 'COMMENT', 'DEFAULT', 'SEQUENCE OWNED BY', 'CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'INDEX ATTACH', 'STATISTICS', 'TRIGGER', 'RULE', 'POLICY', 'ROW SECURITY', 'MATERIALIZED VIEW DATA'. */
  kind: string;
  schema: string | null;
  name: string;
  /** Owning table for constraints/indexes/triggers/policies/defaults. */
  table?: string;
  /** Complete statements, each ending in ';\n'; every name schema-qualified and quoted where needed. */
  sql: string;
}
