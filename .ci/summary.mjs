// Prints one plain closing line for a vitest JSON report: "<label>: N passed, N failed, N skipped".
import fs from 'node:fs';

const [file, label] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
