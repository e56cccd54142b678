#!/usr/bin/env node
// The tigw command. The TypeScript build (npm run build, also run by npm ci's prepare) puts the CLI in dist/.
try {
  require.resolve("../dist/src/main.js");
} catch {
  console.error("tigw is not built yet: run `npm run build` in the repository first");
  process.exit(2);
}
require("../dist/src/main.js")
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
