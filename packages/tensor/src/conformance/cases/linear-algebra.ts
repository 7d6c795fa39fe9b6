import type { CaseSpec, SuiteSize } from '../case-spec.js';

/** matmul: broadcast batches, transposed weights, bias, strided operands, 1-element dims. */
export function matmulCases(size: SuiteSize): CaseSpec[] {
  const m = size === 'medium';
  return [
    {
      name: 'matmul batched with broadcast batch dims',
      per: 'dtype',
      body: (c) => {
        const a = c.input(m ? [2, 1, 129, 256] : [2, 1, 7, 19]);
        const b = c.input(m ? [3, 256, 65] : [3, 19, 5]);
        return [c.close('matmul(a, b)', c.backend.matmul(a.t, b.t), c.ref.matmul(c.f32(a), c.f32(b)))];
      },
    },
    {
      name: 'matmul linear: transposeB weight [N, K] + bias, strided activations',
      per: 'dtype',
      body: (c) => {
        const [L, K, N] = m ? [300, 512, 768] : [33, 24, 17];
        const x = c.permuted([L, 1, K], [1, 0, 2]); // [1, L, K] view
        const w = c.input([N, K], 1 / Math.sqrt(K));
        const bias = c.input([N]);
        return [
          c.close('linear', c.backend.matmul(x.t, w.t, { transposeB: true, bias: bias.t }), c.ref.matmul(c.f32(x), c.f32(w), { transposeB: true, bias: c.f32(bias) })),
          c.close('linear without bias', c.backend.matmul(x.t, w.t, { transposeB: true }), c.ref.matmul(c.f32(x), c.f32(w), { transposeB: true })),
          // the fused epilogue against the unfused composition: a DiT MLP's first linear
          c.close(
            'linear + gelu epilogue',
            c.backend.matmul(x.t, w.t, { transposeB: true, bias: bias.t, activation: 'gelu' }),
            c.ref.gelu(c.ref.matmul(c.f32(x), c.f32(w), { transposeB: true, bias: c.f32(bias) })),
          ),
        ];
      },
    },
    {
      name: 'matmul with 1-element dims and a transposed b view',
      per: 'dtype',
      body: (c) => {
        const a = c.input([1, 1, m ? 1024 : 9]);
        const b = c.view(c.input([m ? 33 : 3, m ? 1024 : 9]), (t) => t.transpose());
        const one = c.input([1, 1]);
        return [
          c.close('matmul(row, b view)', c.backend.matmul(a.t, b.t), c.ref.matmul(c.f32(a), c.f32(b))),
          c.close('matmul 1x1x1', c.backend.matmul(one.t, one.t), c.ref.matmul(c.f32(one), c.f32(one))),
        ];
      },
    },
  ];
}
