import type { CheckpointSummary } from './summary.js';

/** Tensors listed before eliding, unless --all. */
const DEFAULT_LISTED_TENSORS = 20;

/** Renders the human-readable inspect report. */
export function formatSummary(s: CheckpointSummary, all: boolean): string {
  const lines = [
    `checkpoint  ${s.path}${s.files.length > 1 ? ` (${s.files.length} shards)` : ''}`,
    `model       ${s.model.label}`,
    `tensors     ${s.tensorCount}`,
    `parameters  ${s.parameters.toLocaleString('en-US')} (${compact(s.parameters)})`,
    `bytes       ${s.bytes.toLocaleString('en-US')} (${compact(s.bytes)}B)`,
  ];
  for (const [dtype, t] of Object.entries(s.dtypes)) {
    lines.push(`  ${dtype.padEnd(8)} ${String(t.tensors).padStart(6)} tensors ${t.parameters.toLocaleString('en-US').padStart(18)} parameters`);
  }
  const shown = all ? s.tensors : s.tensors.slice(0, DEFAULT_LISTED_TENSORS);
  const nameWidth = Math.max(4, ...shown.map((t) => t.name.length));
  lines.push('', `${'name'.padEnd(nameWidth)}  dtype    shape`);
  for (const t of shown) lines.push(`${t.name.padEnd(nameWidth)}  ${t.dtype.padEnd(7)}  [${t.shape.join(', ')}]`);
  if (shown.length < s.tensors.length) lines.push(`... ${s.tensors.length - shown.length} more tensors (--all lists them)`);
  return `${lines.join('\n')}\n`;
}

/** 1234567 -> "1.23M" (decimal prefixes). */
function compact(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2)}${units[i]}`;
}
