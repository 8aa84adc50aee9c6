// Lint: eslint's and typescript-eslint's recommended rules, type-aware for
// the TypeScript that tsconfig.test.json compiles, so promises that nobody
// awaits are caught. Layout is prettier's job: eslint-config-prettier comes
// last and turns off every rule that would fight it.
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import {defineConfig} from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {ignores: ['dist/', 'dist.next/', 'build/', 'native/', 'node_modules/', '.tmp/']},
  {
    files: ['**/*.{js,mjs,ts}'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: {project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      // A leading underscore marks a parameter or binding kept on purpose
      // (a fixed signature, or a key taken out of a rest spread).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true},
      ],
      // Tar headers and name checks match NUL and other control bytes on purpose.
      'no-control-regex': 'off',
      // An interface's async methods (authorization(), close()) may have nothing to await.
      '@typescript-eslint/require-await': 'off',
      // The pool rethrows whatever a worker threw, as it was.
      '@typescript-eslint/only-throw-error': ['error', {allowThrowingUnknown: true}],
      // A variable a closure reads before its one assignment (the upload a progress report looks at).
      'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      // Tests, benchmarks and the demo parse the CLI's JSON output and fixture
      // responses into `any` and then check their shape themselves.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // chai asserts through property reads: expect(list).to.not.be.empty
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  // Not in any tsconfig: linted without type information.
  {files: ['**/*.{js,mjs}', 'scripts/**/*.ts'], extends: [tseslint.configs.disableTypeChecked]},
  prettier,
)
