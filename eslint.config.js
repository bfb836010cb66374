import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NO_SQLITE = { name: 'better-sqlite3', message: 'Only src/store/ talks to SQLite.' };

/** Any path into src/store/ from a file outside it (src/*.ts or a folder below src/). */
const STORE_SEAM = {
  regex: '^(?:\\./|(?:\\.\\./)+)store(?:/|$)',
  message: 'Only src/main.ts, src/cli.ts and src/context.ts open the store; take its ports from src/core/ports.ts.',
};

const ADAPTERS = ['sms', 'telephony', 'http', 'jobs', 'store'];

/**
 * What a file of an adapter folder may not import: any relative path leaving its folder except
 * src/core/, src/domain/, src/logger.ts, and src/config.ts for its types only.
 */
function adapterPatterns(dir) {
  const allowed = ['(?:core|domain)/', 'logger\\.ts$', 'config\\.ts$'];
  return [
    {
      regex: `^\\.\\./(?!${allowed.join('|')})`,
      message: `src/${dir}/ is an adapter: it imports only src/core/, src/domain/, src/logger.ts and the types of src/config.ts, never another adapter or a composition root.`,
    },
    { regex: '^\\.\\./config\\.ts$', allowTypeImports: true, message: 'Adapters take only the types of src/config.ts; the composition root passes the values.' },
  ];
}

/**
 * The two engines inside src/store/ stay apart: the PostgreSQL files (pg-*.ts) import nothing
 * of SQLite's, and SQLite's files nothing of PostgreSQL's. Only index.ts picks between them.
 */
const SQLITE_FILES = ['src/store/db.ts', 'src/store/statements.ts', 'src/store/outbox-store.ts', 'src/store/sqlite-*.ts'];
const NO_SQLITE_HERE = {
  regex: '^\\./(?:db|statements|outbox-store|sqlite-[\\w-]+)\\.ts$',
  message: 'The PostgreSQL engine does not use the SQLite engine; shared pure helpers go to a neutral module.',
};
const NO_PG_HERE = {
  regex: '^\\./pg-[\\w-]+\\.ts$',
  message: 'The SQLite engine does not use the PostgreSQL engine; shared pure helpers go to a neutral module.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/http/pages/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly', document: 'readonly', fetch: 'readonly', EventSource: 'readonly', localStorage: 'readonly',
        sessionStorage: 'readonly', confirm: 'readonly',
      },
    },
  },
  // The seams. Only src/store/ knows a database; only the composition roots (main, cli,
  // context) open it, everything else receives its ports (src/core/ports.ts). An adapter
  // folder (sms, telephony, http, jobs, store) takes nothing from another one: only src/core,
  // src/domain, src/logger.ts and the types of src/config.ts. Type imports count too.
  // Tests, benches and scripts may import anything.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/store/**'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [NO_SQLITE], patterns: [STORE_SEAM] }] },
  },
  {
    files: ['src/main.ts', 'src/cli.ts', 'src/context.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [NO_SQLITE] }] },
  },
  ...ADAPTERS.map((dir) => ({
    files: [`src/${dir}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: dir === 'store' ? [] : [NO_SQLITE],
        patterns: adapterPatterns(dir),
      }],
    },
  })),
  {
    files: ['src/store/pg-*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'better-sqlite3', message: NO_SQLITE_HERE.message }],
        patterns: [...adapterPatterns('store'), NO_SQLITE_HERE],
      }],
    },
  },
  {
    files: SQLITE_FILES,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'pg', message: NO_PG_HERE.message }],
        patterns: [...adapterPatterns('store'), NO_PG_HERE],
      }],
    },
  },
);
