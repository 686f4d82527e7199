// Lint for every package. The important part is the dependency rule of DESIGN.md, enforced with nx's
// module-boundary rule over the `layer:*` tags of each project.json:
//   base (errdefs, oci-spec, cri-api) → nothing but base
//   core (runtime-core)               → base
//   engine (image-store, cni-runner)  → base, and runtime-core's `/sys` subpath only (never another engine)
//   service (cri-server)              → base, core, engines
//   client (ctl)                      → base (gRPC only; never the native addon)
// nx sees a package, not its subpaths, so "engines use only runtime-core/sys" is the second half of
// the same boundary: engines may depend on the runtime-core project, and `no-restricted-imports`
// forbids its main entry (and any deep path other than /sys) in engine code.
const nx = require('@nx/eslint-plugin');
const tseslint = require('typescript-eslint');

const ENGINE_FILES = ['packages/image-store/**/*.ts', 'packages/cni-runner/**/*.ts'];

module.exports = [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/native-bin/**', 'native/build/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          // CLIs require() heavy modules inside their handlers to start fast (see podrun, podimg); that is
          // not a lazy-loaded library in nx's (front-end) sense, so static imports elsewhere stay allowed.
          checkDynamicDependenciesExceptions: ['@podkit/*'],
          depConstraints: [
            { sourceTag: 'layer:base', onlyDependOnLibsWithTags: ['layer:base'] },
            { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['layer:base', 'layer:native'] },
            { sourceTag: 'layer:engine', onlyDependOnLibsWithTags: ['layer:base', 'layer:core'] },
            { sourceTag: 'layer:service', onlyDependOnLibsWithTags: ['layer:base', 'layer:core', 'layer:engine'] },
            { sourceTag: 'layer:client', onlyDependOnLibsWithTags: ['layer:base'] },
            { sourceTag: 'layer:e2e', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'layer:tools', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ENGINE_FILES,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@podkit/runtime-core',
              message: 'module boundary: an engine may import only @podkit/runtime-core/sys, never the runtime library (DESIGN.md, dependency rule)',
            },
          ],
          patterns: [
            {
              regex: '^@podkit/runtime-core/(?!sys$)',
              message: 'module boundary: an engine may import only @podkit/runtime-core/sys, never the runtime library (DESIGN.md, dependency rule)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
];
