import type { Backend } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import type { Pair } from '../case-context.js';
import type { CaseSpec, SuiteSize } from '../case-spec.js';

type BinaryOp = 'add' | 'sub' | 'mul';
type UnaryOp = 'gelu' | 'silu' | 'softmax';

/** Elementwise, modulation, norms and activations, on strided and broadcast inputs. */
export function pointwiseCases(size: SuiteSize): CaseSpec[] {
  const m = size === 'medium';
  const L = m ? 1031 : 13;
  const C = m ? 1536 : 33;
  const binary = (['add', 'sub', 'mul'] as const).map(
    (op: BinaryOp): CaseSpec => ({
      name: `${op} with broadcasting`,
      per: 'dtype',
      body: (c) => {
        const a = c.input([2, 1, L, 3]);
        const b = c.input([5, 1, 3]);
        const row = c.input([C]);
        const x = c.permuted([L, 2, C], [1, 0, 2]);
        const run = (be: Backend, p: Tensor, q: Tensor) => be[op](p, q);
        return [
          c.close(`${op}(a[2,1,L,3], b[5,1,3])`, run(c.backend, a.t, b.t), run(c.ref, c.f32(a), c.f32(b))),
          c.close(`${op}(strided x, row)`, run(c.backend, x.t, row.t), run(c.ref, c.f32(x), c.f32(row))),
          c.close(`${op}(row, strided x)`, run(c.backend, row.t, x.t), run(c.ref, c.f32(row), c.f32(x))),
        ];
      },
    }),
  );
  const unary = (['gelu', 'silu', 'softmax'] as const).map(
    (op: UnaryOp): CaseSpec => ({
      name: `${op} on a strided view`,
      per: 'dtype',
      body: (c) => {
        const x = c.view(c.input([m ? 4 : 3, L, C + 1], 3), (t) => t.slice(2, 1).transpose(0, 1));
        const v = c.input([1, 1, 1], 3);
        return [
          c.close(`${op}(x)`, c.backend[op](x.t), c.ref[op](c.f32(x))),
          c.close(`${op}(1 element)`, c.backend[op](v.t), c.ref[op](c.f32(v))),
        ];
      },
    }),
  );
  return [
    ...binary,
    {
      name: 'modulate and gatedAdd (adaLN) with per-sample scale/shift/gate',
      per: 'dtype',
      body: (c) => {
        const x = c.permuted([L, 2, C], [1, 0, 2]);
        const scale = c.input([2, 1, C], 0.5);
        const shift = c.input([C]);
        const y = c.input([2, L, C]);
        return [
          c.close('modulate', c.backend.modulate(x.t, scale.t, shift.t), c.ref.modulate(c.f32(x), c.f32(scale), c.f32(shift))),
          c.close('gatedAdd', c.backend.gatedAdd(x.t, y.t, scale.t), c.ref.gatedAdd(c.f32(x), c.f32(y), c.f32(scale))),
        ];
      },
    },
    {
      name: 'layerNorm (plain and affine) and rmsNorm on a strided view',
      per: 'dtype',
      body: (c) => {
        // offset mean and large spread: a one-pass E[x^2]-E[x]^2 variance would lose digits here
        const x = c.view(c.input([L, 2, C + 3], 4, 3), (t) => t.slice(2, 3).permute([1, 0, 2]));
        const w = c.input([C], 1, 1);
        const b = c.input([C]);
        const eps = 1e-6;
        return [
          c.close('layerNorm', c.backend.layerNorm(x.t, { eps }), c.ref.layerNorm(c.f32(x), { eps })),
          c.close('layerNorm affine', c.backend.layerNorm(x.t, { eps, weight: w.t, bias: b.t }), c.ref.layerNorm(c.f32(x), { eps, weight: c.f32(w), bias: c.f32(b) })),
          c.close('rmsNorm', c.backend.rmsNorm(x.t, w.t, eps), c.ref.rmsNorm(c.f32(x), c.f32(w), eps)),
        ];
      },
    },
    {
      name: 'layerNorm with fused adaLN modulation and an output dtype',
      per: 'dtype',
      body: (c) => {
        const x = c.permuted([L, 2, C], [1, 0, 2], 2);
        const scale = c.input([2, 1, C], 0.5);
        const shift = c.input([C]);
        const w = c.input([C], 1, 1);
        const b = c.input([C]);
        const eps = 1e-6;
        // the unfused composition on the reference side
        const expected = (affine: boolean) =>
          c.ref.modulate(c.ref.layerNorm(c.f32(x), affine ? { eps, weight: c.f32(w), bias: c.f32(b) } : { eps }), c.f32(scale), c.f32(shift));
        // a second output dtype: GEMM input (bf16) from an f32 residual stream, f32 from half inputs
        const other = c.dtype === 'f32' ? 'bf16' : 'f32';
        return [
          c.close('layerNorm + modulate', c.backend.layerNorm(x.t, { eps, scale: scale.t, shift: shift.t }), expected(false)),
          c.close(
            `layerNorm affine + modulate -> ${other}`,
            c.backend.layerNorm(x.t, { eps, weight: w.t, bias: b.t, scale: scale.t, shift: shift.t, dtype: other }),
            expected(true),
            { dtype: other },
          ),
          c.close(`layerNorm -> ${other}`, c.backend.layerNorm(x.t, { eps, dtype: other }), c.ref.layerNorm(c.f32(x), { eps }), { dtype: other }),
        ];
      },
    },
    {
      name: 'residualLayerNorm: gated or plain residual, then affine or adaLN layerNorm, into an output dtype',
      per: 'dtype',
      body: (c) => {
        const eps = 1e-6;
        const x = c.input([2, L, C], 1, 0.5, 'f32'); // an f32 residual stream, as DiTs keep it
        const xs = c.permuted([L, 2, C], [1, 0, 2]); // the case dtype, strided
        const y = c.input([2, L, C], 2);
        const gate = c.input([2, 1, C], 0.5);
        const scale = c.input([2, 1, C], 0.5);
        const shift = c.input([C]);
        const w = c.input([C], 1, 1);
        const b = c.input([C]);
        const other = c.dtype === 'f32' ? 'bf16' : 'f32';
        // the reference composes its own ops: the sum, then the norm of that sum
        const sum = (xp: Pair, yp: Pair, g?: Pair) => (g ? c.ref.gatedAdd(c.f32(xp), c.f32(yp), c.f32(g)) : c.ref.add(c.f32(xp), c.f32(yp)));
        const adaLN = (s: Tensor) => c.ref.modulate(c.ref.layerNorm(s, { eps }), c.f32(scale), c.f32(shift));
        const gated = c.backend.residualLayerNorm(x.t, y.t, { gate: gate.t, eps, scale: scale.t, shift: shift.t, dtype: c.dtype });
        const plain = c.backend.residualLayerNorm(x.t, y.t, { eps, weight: w.t, bias: b.t, dtype: other });
        const strided = c.backend.residualLayerNorm(xs.t, y.t, { gate: gate.t, eps, scale: scale.t, shift: shift.t });
        const rowY = c.backend.residualLayerNorm(x.t, shift.t, { gate: gate.t, eps });
        const s1 = sum(x, y, gate);
        const s2 = sum(x, y);
        const s3 = sum(xs, y, gate);
        const s4 = sum(x, shift, gate);
        return [
          c.close('gated sum (f32 x)', gated.sum, s1, { dtype: 'f32' }),
          c.close('adaLN norm of the gated sum', gated.norm, adaLN(s1)),
          c.close('plain sum (f32 x)', plain.sum, s2, { dtype: 'f32' }),
          c.close(`affine norm of the plain sum -> ${other}`, plain.norm, c.ref.layerNorm(s2, { eps, weight: c.f32(w), bias: c.f32(b) }), { dtype: other }),
          c.close('gated sum (strided x of the case dtype)', strided.sum, s3),
          c.close('adaLN norm of that sum', strided.norm, adaLN(s3)),
          c.close('gated sum with a broadcast y [C]', rowY.sum, s4, { dtype: 'f32' }),
          c.close('norm of that sum', rowY.norm, c.ref.layerNorm(s4, { eps }), { dtype: 'f32' }),
        ];
      },
    },
    ...unary,
  ];
}
