import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'certs/', 'bench/results/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The teaching page's modules run in the browser: browser globals, and no node ones.
  { ignores: ['src/admin/static/**', 'test/helpers/*.browser.js'], languageOptions: { globals: { ...globals.node } } },
  { files: ['src/admin/static/**/*.js', 'test/helpers/*.browser.js'], languageOptions: { globals: { ...globals.browser }, sourceType: 'module' } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
)
