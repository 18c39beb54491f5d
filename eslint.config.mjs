// ESLint flat config: @eslint/js recommended + typescript-eslint recommended over the whole tree.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['.next/**', 'node_modules/**', '.data/**', 'coverage/**', 'next-env.d.ts', '.scratch*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring something away, required parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // No import circles in lib/ (type-only imports included): a circle means two modules that can
    // only be understood together, and it is how module-load-order bugs start. Types that two
    // modules share go in a module of their own (e.g. lib/backup/restore/restore-types.ts).
    files: ['lib/**/*.ts', 'lib/**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      // The rule parses every imported module itself: it must know .ts files and their parser.
      'import-x/extensions': ['.ts', '.tsx'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // Plain JavaScript entry points run on Node (TypeScript files get their globals from @types/node).
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
);
