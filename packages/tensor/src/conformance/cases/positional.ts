import type { Rope3dOptions } from '../../backend.js';
import type { CaseSpec, SuiteSize } from '../case-spec.js';

/** 3D RoPE over a frame-major grid with trailing text tokens, on a [B, L, H, D] view of [B, H, L, D] storage; also with its fused RMSNorm. */
export function ropeCases(size: SuiteSize): CaseSpec[] {
  const m = size === 'medium';
  const variants: { name: string; B: number; H: number; text: number; opts: Rope3dOptions }[] = m
    ? [{ name: 'Wan split [44, 42, 42]', B: 1, H: 4, text: 20, opts: { grid: [3, 16, 16], split: [44, 42, 42], theta: 10000 } }]
    : [
        { name: 'split [6, 6, 4], text tokens', B: 2, H: 3, text: 3, opts: { grid: [2, 3, 5], split: [6, 6, 4], theta: 10000 } },
        { name: 'split [2, 4, 0], 1-element grid axes', B: 1, H: 1, text: 0, opts: { grid: [7, 1, 1], split: [2, 4, 0], theta: 256 } },
      ];
  return variants.map(({ name, B, H, text, opts }) => ({
    name: `rope3d ${name}`,
    per: 'dtype',
    body: (c) => {
      const L = opts.grid[0] * opts.grid[1] * opts.grid[2] + text;
      const D = opts.split[0] + opts.split[1] + opts.split[2];
      const x = c.permuted([B, H, L, D], [0, 2, 1, 3]);
      // the fused RMSNorm over each token's H * D channels against rmsNorm, then rope3d
      const w = c.input([H * D], 0.3, 1);
      const normed = c.ref.rmsNorm(c.ref.contiguous(c.f32(x)).reshape([B, L, H * D]), c.f32(w), 1e-6).reshape([B, L, H, D]);
      return [
        c.close('rope3d', c.backend.rope3d(x.t, opts), c.ref.rope3d(c.f32(x), opts)),
        c.close('rope3d with RMSNorm', c.backend.rope3d(x.t, { ...opts, norm: { weight: w.t, eps: 1e-6 } }), c.ref.rope3d(normed, opts)),
      ];
    },
  }));
}
