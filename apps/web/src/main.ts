// The page: reads the form, runs the demo on the chosen backend, draws the result. All
// computation is in demo-run.ts (tested without a DOM); this file only touches the page.
import { stepKind } from '@mod-dit/scheduler';
import { type BackendChoice, type SelectedBackend, selectBackend } from './backend-select.js';
import { drawMask, drawSparsityMap } from './block-grid-canvas.js';
import { DEFAULT_CONFIG, type DemoBudget, type DemoConfig, type DemoDType, SCHEDULE } from './demo-config.js';
import { type DemoResult, runDemo } from './demo-run.js';

const $ = <T extends HTMLElement = HTMLInputElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks element #${id}`);
  return el as T;
};

const status = $<HTMLDivElement>('status');
const errorBox = $<HTMLDivElement>('error');
const fallbackBox = $<HTMLDivElement>('fallback');
const results = $<HTMLElement>('results');
const runButton = $<HTMLButtonElement>('run');

function showError(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  errorBox.textContent = `${err.name}: ${err.message}`;
  errorBox.hidden = false;
  status.textContent = 'Failed: see the error below the form.';
}

window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

function readConfig(): DemoConfig {
  // valueAsNumber is NaN for an empty or unparsable field (Number('') would be 0): the checks then name it.
  const num = (id: string) => {
    const el = $<HTMLInputElement | HTMLSelectElement>(id);
    return el instanceof HTMLInputElement ? el.valueAsNumber : Number(el.value);
  };
  const budgetValue = num('budget-value');
  const budget: DemoBudget = $<HTMLSelectElement>('budget-kind').value === 'top-k' ? { kind: 'top-k', k: budgetValue } : { kind: 'density', density: budgetValue };
  return {
    grid: [num('frames'), num('height'), num('width')],
    heads: num('heads'),
    headDim: num('head-dim'),
    blockSize: num('block-size') as 64 | 128,
    tau: num('tau'),
    budget,
    step: num('step'),
    seed: num('seed'),
    dtype: $<HTMLSelectElement>('dtype').value as DemoDType,
    repeats: num('repeats'),
  };
}

/** Puts a config into the form (the page's defaults live in DEFAULT_CONFIG only). */
function writeConfig(c: DemoConfig): void {
  const set = (id: string, v: number | string) => ($(id).value = String(v));
  c.grid.forEach((v, i) => set(['frames', 'height', 'width'][i], v));
  set('heads', c.heads);
  set('head-dim', c.headDim);
  set('block-size', c.blockSize);
  set('dtype', c.dtype);
  set('tau', c.tau);
  set('budget-kind', c.budget.kind);
  set('budget-value', c.budget.kind === 'top-k' ? c.budget.k : c.budget.density);
  const step = $('step');
  step.min = String(SCHEDULE.warmup);
  step.max = String(SCHEDULE.steps - 1);
  set('step', c.step);
  set('seed', c.seed);
  set('repeats', c.repeats);
}

/** Describes the slider's step in schedule terms. */
function stepInfo(step: number): string {
  const kind = stepKind({ ...SCHEDULE, denseLayers: 0 }, step, 0);
  if (kind === 'dense+map') return `step ${step}: refresh (dense + map); shows the mask it builds for steps ${step + 1}-${Math.min(SCHEDULE.steps - 1, step + SCHEDULE.interval - 1)}`;
  return `step ${step} of ${SCHEDULE.steps}: sparse`;
}

// One backend per choice for the page's lifetime: a WebGPU device is expensive to create.
const backends = new Map<BackendChoice, Promise<SelectedBackend>>();
function backendFor(choice: BackendChoice): Promise<SelectedBackend> {
  let p = backends.get(choice);
  if (!p) {
    p = selectBackend(choice);
    p.catch(() => backends.delete(choice));
    backends.set(choice, p);
  }
  return p;
}

const DENSITY_DEFAULT = DEFAULT_CONFIG.budget.kind === 'density' ? DEFAULT_CONFIG.budget.density : 0.35;
/** A line count that leaves a visible share of a small grid's 3n - 1 lines off. */
const TOP_K_DEFAULT = 8;

const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1)) + ' ms';

function row(label: string, value: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = label;
  const td = document.createElement('td');
  td.textContent = value;
  tr.append(th, td);
  return tr;
}

function render(r: DemoResult, selected: SelectedBackend): void {
  const c = r.config;
  const bs = c.blockSize;
  const last = r.tokens - (r.blocks - 1) * bs;
  const summary = $<HTMLTableSectionElement>('summary');
  summary.replaceChildren(
    row('backend', selected.detail),
    row(
      'attention call',
      `${c.heads} heads x ${r.tokens} tokens (${c.grid.join(' x ')} frame-major) x head dim ${c.headDim}, ${c.dtype}; ` +
        `${r.blocks} x ${r.blocks} blocks of ${bs}${last < bs ? ` (last block ragged: ${last} tokens)` : ''}`,
    ),
    row(
      'schedule',
      `step ${c.step} is ${r.stepKind === 'sparse' ? 'sparse' : 'a refresh (dense + map)'}; fitted maps of steps ${r.mapSteps.join(', ')}; ` +
        `the mask shown was built at step ${r.maskSteps.fromStep - 1} and serves steps ${r.maskSteps.fromStep}-${r.maskSteps.toStep}`,
    ),
    row(
      'mask quality',
      `density ${pct(r.overall.density)} (sparsity ${pct(1 - r.overall.density)}), attention-mass recall ${pct(r.overall.recall, 2)}, ` +
        `output rel. error ${r.overall.relError.toExponential(2)} (budget: ${c.budget.kind === 'top-k' ? `top_k ${c.budget.k} lines` : `density ${c.budget.density}`}, tau ${c.tau})`,
    ),
    row(
      `time on ${r.backend}`,
      `dense ${ms(r.timings.dense)}, dense + map ${ms(r.timings.denseMap)}, block-sparse ${ms(r.timings.sparse)} ` +
        `(dense / sparse = ${(r.timings.dense / r.timings.sparse).toFixed(2)}x; median of ${c.repeats} after a warm-up run)`,
    ),
    row(
      'host work',
      `predictor (fit + extrapolate + mask, ${r.mapSteps.length} maps) ${ms(r.timings.predictor)}; float64 recall reference ${ms(r.timings.reference)}`,
    ),
  );

  const cards = r.heads.map((h, i) => {
    const card = document.createElement('div');
    card.className = 'head';
    const title = document.createElement('h3');
    title.textContent = `head ${i} (${h.kind})`;
    const pair = document.createElement('div');
    pair.className = 'pair';
    const figure = (caption: string, draw: (cv: HTMLCanvasElement) => void) => {
      const fig = document.createElement('figure');
      const cv = document.createElement('canvas');
      draw(cv);
      const cap = document.createElement('figcaption');
      cap.textContent = caption;
      fig.append(cv, cap);
      return fig;
    };
    pair.append(
      figure('sparsity map', (cv) => drawSparsityMap(cv, r.blocks, h.map)),
      figure('predicted mask', (cv) => drawMask(cv, r.blocks, h.mask, h.map)),
    );
    const metrics = document.createElement('div');
    metrics.className = 'metrics';
    metrics.textContent = `density ${pct(h.density)}, recall ${pct(h.recall, 2)}\nrel. error ${h.relError.toExponential(2)}`;
    card.append(title, pair, metrics);
    return card;
  });
  $<HTMLDivElement>('head-cards').replaceChildren(...cards);
  results.hidden = false;
}

let running = false;
async function run(): Promise<void> {
  if (running) return;
  running = true;
  runButton.disabled = true;
  errorBox.hidden = true;
  try {
    const choice = $<HTMLSelectElement>('backend').value as BackendChoice;
    status.textContent = 'Starting the backend...';
    const selected = await backendFor(choice);
    fallbackBox.hidden = !selected.fallbackReason;
    fallbackBox.textContent = selected.fallbackReason ? `Running on the CPU backend: WebGPU is not available here (${selected.fallbackReason}).` : '';
    const t0 = performance.now();
    const result = await runDemo(selected.backend, readConfig(), async (stage) => {
      status.textContent = `Running: ${stage}...`;
      // Give the browser a frame to paint the status before the next synchronous stretch of
      // work (a timer, not requestAnimationFrame: that never fires in a background tab).
      await new Promise((resolve) => setTimeout(resolve, 16));
    });
    render(result, selected);
    status.textContent = `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`;
  } catch (e) {
    results.hidden = true; // never leave the previous run's figures under this run's error
    showError(e);
  } finally {
    running = false;
    runButton.disabled = false;
  }
}

const stepInput = $('step');
const updateStepInfo = () => ($<HTMLSpanElement>('step-info').textContent = stepInfo(Number(stepInput.value)));
stepInput.addEventListener('input', updateStepInfo);
stepInput.addEventListener('change', () => void run());
// A density target and a line count live on different scales: switching kinds resets the value.
$<HTMLSelectElement>('budget-kind').addEventListener('change', (ev) => {
  $('budget-value').value = (ev.target as HTMLSelectElement).value === 'top-k' ? String(TOP_K_DEFAULT) : String(DENSITY_DEFAULT);
});
$<HTMLFormElement>('params').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void run();
});
writeConfig(DEFAULT_CONFIG);
// Links can preset any field by its id, e.g. ?backend=cpu&step=31&frames=8
for (const [id, value] of new URLSearchParams(location.search)) {
  const el = document.getElementById(id);
  if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.value = value;
}
updateStepInfo();
void run();
