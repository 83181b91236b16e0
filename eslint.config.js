// Lint rules: typescript-eslint's type-checked set; unhandled promises are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { paths: [{ name: 'obd-parser', message: 'obd-parser (GPL-3.0) may only be used as a test oracle.' }] }],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'net', 'node:net', 'http', 'node:http', 'child_process', 'node:child_process', 'dgram', 'node:dgram'],
        patterns: [{ group: ['../hardware/*', '../firmware/*', '../gateway/*', '../tools/*'], message: 'protocol/ imports nothing of ours and does no I/O.' }],
      }],
    },
  },
  // Hand-written browser scripts served as they are (no build step): no type information, browser globals.
  { files: ['gateway/api/dashboard/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['gateway/api/dashboard/*.js'], languageOptions: { globals: { document: 'readonly', EventSource: 'readonly' } } },
  { files: ['tools/wallet/ui/page/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['tools/wallet/ui/page/*.js'], languageOptions: { globals: { document: 'readonly', fetch: 'readonly', CSS: 'readonly', Node: 'readonly' } } },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap's t.test() returns a promise that tap itself awaits; every other promise must be handled.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'rejects', 'resolves', 'resolveMatch'], package: '@tapjs/test' }, { from: 'package', name: ['test', 'rejects', 'resolves', 'resolveMatch'], package: '@tapjs/core' }, { from: 'package', name: ['rejects', 'resolves'], package: '@tapjs/asserts' }],
      }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
