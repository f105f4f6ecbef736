// @ts-check
import tseslint from "typescript-eslint";

// A small, type-aware rule set for the bugs a type checker lets through: promises nobody awaits or catches (an
// unhandled rejection ends the process), values that are never used, async functions handed to callers that
// ignore their promise. `npm run lint` runs it with tsc; CI runs it (.ci/run).
export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "test-results/**", "coverage/**", "bench/gpu/llama-server-build/**", "bench/gpu/out/**", "dist-bench/**", "**/*.js"] },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false, attributes: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true, allowThrowingAny: true }],
      "@typescript-eslint/no-unused-expressions": ["error", { allowShortCircuit: true, allowTernary: true }],
      "no-unused-private-class-members": "error",
      "no-fallthrough": "error",
      "no-self-compare": "error",
      "no-unreachable": "error",
      "eqeqeq": ["error", "always", { null: "ignore" }],
    },
  },
);
