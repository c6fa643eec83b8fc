import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'src/generated/**', 'coverage/**', 'oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      'no-constant-condition': ['error', {checkLoops: false}],
      'no-control-regex': 'off',
      'no-restricted-properties': [
        'error',
        {
          object: 'console',
          property: 'log',
          message: 'stdout of thoth run belongs to MCP: use the diagnostics module or this.log in commands.',
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**', 'fixtures/**'],
    rules: {'no-restricted-properties': 'off', '@typescript-eslint/no-non-null-assertion': 'off'},
  },
);
