// Prints the closing line CI reads, from vitest's JSON report; exits non-zero on any failure.
import { existsSync, readFileSync } from 'node:fs';

const [file, status] = process.argv.slice(2);
if (!existsSync(file)) {
  console.log('0 passed, 1 failed');
  process.exit(Number(status) || 1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const failedSuites = r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
const failed = r.numFailedTests + failedSuites;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || r.numTotalTests === 0 || Number(status) !== 0 ? 1 : 0);
