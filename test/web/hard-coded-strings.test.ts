import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every user-facing string goes through the message catalogs: this reads every component under
 * app/ and components/ and fails on English that would reach the screen without next-intl —
 * JSX text, string literals (or templates) rendered as JSX children, and the literal values of
 * attributes people read or hear (aria-label, title, placeholder, alt, …).
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const READ_ATTRIBUTES = new Set(['aria-label', 'aria-description', 'aria-placeholder', 'aria-roledescription', 'aria-valuetext', 'title', 'placeholder', 'alt', 'label']);
/** Words: two or more Latin letters (a lone "x" or "·" is not a sentence; a unit like "MB" would be). */
const WORDS = /[A-Za-z]{2,}/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return /\.tsx$/.test(e.name) && !/\.test\.tsx$/.test(e.name) ? [p] : [];
  });
}

/** The English literal text a node renders, if it is a string literal or template with words. */
function literalText(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return WORDS.test(node.text) ? node.text : null;
  if (ts.isTemplateExpression(node)) {
    const text = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
    return WORDS.test(text) ? text : null;
  }
  // `cond ? 'Yes' : t('no')`, `x ?? 'None'`, `a || 'Unknown'`
  if (ts.isConditionalExpression(node)) return literalText(node.whenTrue) ?? literalText(node.whenFalse);
  if (ts.isBinaryExpression(node) && [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.AmpersandAmpersandToken].includes(node.operatorToken.kind)) return literalText(node.right);
  if (ts.isParenthesizedExpression(node)) return literalText(node.expression);
  return null;
}

export function hardCodedStrings(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const found: string[] = [];
  const at = (n: ts.Node, what: string) => found.push(`${path.relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${what}`);
  const visit = (node: ts.Node) => {
    if (ts.isJsxText(node) && WORDS.test(node.text)) at(node, `JSX text ${JSON.stringify(node.text.trim())}`);
    if (ts.isJsxExpression(node) && node.expression && (ts.isJsxElement(node.parent) || ts.isJsxFragment(node.parent))) {
      const text = literalText(node.expression);
      if (text) at(node, `JSX child ${JSON.stringify(text)}`);
    }
    if (ts.isJsxAttribute(node) && node.initializer && READ_ATTRIBUTES.has(node.name.getText(sf))) {
      const init = node.initializer;
      const text = ts.isStringLiteral(init) ? (WORDS.test(init.text) ? init.text : null) : ts.isJsxExpression(init) && init.expression ? literalText(init.expression) : null;
      if (text) at(node, `${node.name.getText(sf)}=${JSON.stringify(text)}`);
    }
    // <title>, metadata: `title: 'TicketHub'` in generateMetadata / export const metadata
    if (ts.isPropertyAssignment(node) && ['title', 'description'].includes(node.name.getText(sf))) {
      const text = literalText(node.initializer);
      if (text) at(node, `metadata ${node.name.getText(sf)} ${JSON.stringify(text)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('no hard-coded user-facing English in the UI', () => {
  it('the scanner finds each kind of hard-coded string (so an empty result means something)', () => {
    const sample = `
      export function X({ ok }: { ok: boolean }) {
        return (<div aria-label="Main menu" title={'Close it'}>
          Signing in…
          {'Loading'}
          {ok ? 'Yes' : t('no')}
          {\`Page \${n}\`}
          <input placeholder="Search" />
          <span aria-hidden className="size-4">{t('ok')} · {n} {'—'}</span>
        </div>);
      }
      export const metadata = { title: 'TicketHub' };`;
    const hits = hardCodedStrings(path.join(ROOT, 'components/sample.tsx'), sample);
    expect(hits.map((h) => h.replace(/^[^:]+:\d+: /, ''))).toEqual([
      'aria-label="Main menu"',
      'title="Close it"',
      'JSX text "Signing in…"',
      'JSX child "Loading"',
      'JSX child "Yes"',
      'JSX child "Page  "',
      'placeholder="Search"',
      'metadata title "TicketHub"',
    ]);
  });

  it('app/ and components/ render no English literal: everything goes through next-intl', () => {
    const all = [...files(path.join(ROOT, 'app')), ...files(path.join(ROOT, 'components'))];
    expect(all.length).toBeGreaterThan(10);
    const hits = all.flatMap((f) => hardCodedStrings(f, readFileSync(f, 'utf8')));
    expect(hits).toEqual([]);
  });

  it('the backups page wraps configuration problems (English detail) in a translated sentence', () => {
    // The schedule, retention and signing-key problems are the server's own words (variable names,
    // values); shown bare, an Amharic page had an English sentence in its configuration card.
    const page = readFileSync(path.join(ROOT, 'app/admin/backups/page.tsx'), 'utf8');
    for (const raw of [/>\{d\.scheduleError \?\?/, />\{d\.info\.retentionError \?\?/, /: d\.info\.signing\.warning\}/]) expect(page).not.toMatch(raw);
    for (const key of ['scheduleProblem', 'retentionProblem', 'signingProblem']) expect(page).toContain(`t('info.${key}'`);
  });
});
