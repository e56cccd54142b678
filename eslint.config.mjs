import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/src/gen/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // A package is used through its entry point (or @tigw/contracts' exports map), never its build output.
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@tigw/*/dist/*", "@tigw/*/src/*", "../../*/src/*", "../../*/dist/*"],
              message: "import another package by its name (its index or @tigw/contracts/<context>/v1/<file>), not its files",
            },
          ],
        },
      ],
    },
  },
  { files: ["**/*.mjs", "**/*.js"], languageOptions: { globals: { process: "readonly", console: "readonly" } } },
  // k6 scripts run in k6's JavaScript runtime, which provides __ENV.
  { files: ["loadtests/**/*.js"], languageOptions: { sourceType: "module", globals: { __ENV: "readonly" } } },
  // The admin web UI and the practice portal run in the browser (served as static ES modules by the gateway).
  { files: ["services/gateway/admin/**/*.js", "services/gateway/portal/**/*.js"], languageOptions: { sourceType: "module", globals: globals.browser } },
  // Node scripts of deploy/kubernetes (the Kubernetes test and its load generator).
  { files: ["deploy/kubernetes/**/*.mjs"], languageOptions: { sourceType: "module", globals: globals.node } },
  // CommonJS launchers (the tigw bin shim) load the compiled CLI with require().
  {
    files: ["**/bin/*.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
