// ESLint flat config: typescript-eslint's type-aware rules over every TypeScript file we run.
// `npm run lint` runs this and dependency-cruiser (.dependency-cruiser.cjs); CI fails on either.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    // The .mjs/.js agents and bootstraps are plain scripts run inside sandboxes; dist/ is build output.
    ignores: ["dist/**", "node_modules/**", "**/*.js", "**/*.mjs", "**/*.cjs"],
  },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts", "examples/*.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // One TypeScript program for the whole tree, from tsconfig.json (it includes all these folders).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // A promise nobody awaits or catches turns a rejection into a process crash.
      // node:test's test()/describe() return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite", "before", "after", "beforeEach", "afterEach"] }] },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      // `return promise` inside try skips its catch and finally when the promise rejects.
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      // verbatimModuleSyntax keeps type-only imports in the output unless they say `import type`.
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-import-type-side-effects": "error",
      // `== null` is the one loose comparison we allow: it means "null or undefined".
      eqeqeq: ["error", "always", { null: "ignore" }],
      // Ports are async; an in-memory adapter that answers at once keeps `async` so a throw still
      // becomes a rejection, as the port's other adapters behave.
      "@typescript-eslint/require-await": "off",
      // Re-rejecting a caught `unknown` passes the original failure on unchanged; wrapping it would not.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      // It fires on String(x) where x is `{}` narrowed from `unknown` (thrown values, JSON fields), our
      // deliberate way to print them; restrict-template-expressions still rejects objects in templates.
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests read HTTP and JSON-RPC bodies as `any` on purpose and assert on their shape field by field.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
);
