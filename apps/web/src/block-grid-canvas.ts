type Rgb = readonly [number, number, number];

/** Colour ramp for "how much of the block matters" in [0, 1]: near-black, purple, orange, pale yellow. */
const RAMP: readonly Rgb[] = [
  [8, 8, 24],
  [90, 30, 120],
  [220, 90, 60],
  [252, 240, 160],
];

function ramp(u: number): Rgb {
  const x = Math.min(1, Math.max(0, u)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] + f * (RAMP[i + 1][c] - RAMP[i][c]))) as unknown as Rgb;
}

/**
 * Paints an n x n block grid into `canvas`, one canvas pixel per block (CSS scales it up
 * with `image-rendering: pixelated`, so blocks stay crisp at any n).
 */
function paint(canvas: HTMLCanvasElement, n: number, colour: (cell: number) => Rgb): void {
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  const img = ctx.createImageData(n, n);
  for (let cell = 0; cell < n * n; cell++) {
    const [r, g, b] = colour(cell);
    img.data.set([r, g, b, 255], cell * 4);
  }
  ctx.putImageData(img, 0, 0);
}

/** The block sparsity map: brightness = 1 - S, the fraction of the block's probabilities >= tau. */
export function drawSparsityMap(canvas: HTMLCanvasElement, n: number, map: Float32Array): void {
  paint(canvas, n, (cell) => ramp(1 - map[cell]));
}

/**
 * The predicted mask over the same map: computed blocks green (brighter = more of the block
 * matters), skipped blocks red where the map says some probabilities were >= tau (a miss),
 * black where the whole block was negligible.
 */
export function drawMask(canvas: HTMLCanvasElement, n: number, mask: Uint8Array, map: Float32Array): void {
  paint(canvas, n, (cell) => {
    const u = Math.sqrt(1 - map[cell]);
    return mask[cell] ? [20, Math.round(90 + 165 * u), Math.round(60 + 60 * u)] : [Math.round(230 * u), 20, 30];
  });
}
