import type { CaseSpec, SuiteSize } from '../case-spec.js';

/** upload/read, contiguous, cast, concat, patchify/unpatchify: exact ops, compared bit for bit. */
export function dataMovementCases(size: SuiteSize): CaseSpec[] {
  const m = size === 'medium';
  return [
    {
      name: 'upload/read round trip',
      per: 'dtype',
      body: (c) => {
        const x = c.input(m ? [3, 1000, 77] : [3, 1, 7, 5]);
        return [c.exact('read(upload(x))', x.t, x.r)];
      },
    },
    {
      name: 'contiguous of a permuted, sliced view',
      per: 'dtype',
      body: (c) => {
        const x = c.view(c.input(m ? [4, 300, 9, 64] : [4, 5, 1, 9]), (t) => t.permute([3, 1, 0, 2]).slice(0, 1, t.shape[3] - 1).slice(2, 1, 3));
        return [c.exact('contiguous(view)', c.backend.contiguous(x.t), c.ref.contiguous(x.r))];
      },
    },
    {
      name: 'cast to every float dtype (RNE), from a strided view',
      per: 'dtype',
      body: (c) => {
        // wide range so that rounding, subnormals and f16 overflow are all exercised
        const x = c.view(c.input(m ? [513, 300] : [17, 30], 40), (t) => t.transpose());
        const y = c.input([m ? 4096 : 64], 1e-5);
        return c.backend.floatDTypes.flatMap((to) => [
          c.exact(`cast(x, ${to})`, c.backend.cast(x.t, to), c.ref.cast(x.r, to)),
          c.exact(`cast(tiny, ${to})`, c.backend.cast(y.t, to), c.ref.cast(y.r, to)),
        ]);
      },
    },
    {
      name: 'concat of strided views along inner and outer axes',
      per: 'dtype',
      body: (c) => {
        const n = m ? 200 : 3;
        const parts = [1, n, 2].map((k) => c.view(c.input([k, 5, 2 * n + 1]), (t) => t.permute([1, 0, 2])));
        const tail = [1, 4].map((k) => c.view(c.input([5, k, 7]), (t) => t.slice(0, 1, 4)));
        return [
          c.exact('concat(axis 1)', c.backend.concat(parts.map((p) => p.t), 1), c.ref.concat(parts.map((p) => p.r), 1)),
          c.exact('concat(axis -2)', c.backend.concat(tail.map((p) => p.t), -2), c.ref.concat(tail.map((p) => p.r), -2)),
        ];
      },
    },
    {
      name: 'patchify / unpatchify, channels first and last',
      per: 'dtype',
      body: (c) => {
        const x = c.input(m ? [1, 16, 4, 32, 48] : [2, 3, 2, 6, 10]);
        const [, , t, h, w] = x.t.shape;
        const checks = [];
        for (const channels of ['first', 'last'] as const)
          for (const patch of [[1, 2, 2], [2, 1, 2]] as const) {
            const tag = `${channels} [${patch.join(',')}]`;
            const tok = c.backend.patchify(x.t, { patch, channels });
            const grid = [t / patch[0], h / patch[1], w / patch[2]] as const;
            checks.push(c.exact(`patchify ${tag}`, tok, c.ref.patchify(x.r, { patch, channels })));
            checks.push(c.exact(`unpatchify(patchify) ${tag}`, c.backend.unpatchify(tok, grid, { patch, channels }), x.r));
          }
        const tokens = c.view(c.input([m ? 3 * 16 * 24 : 2 * 3 * 5, 1, 12]), (v) => v.permute([1, 0, 2]));
        checks.push(c.exact('unpatchify of a strided view', c.backend.unpatchify(tokens.t, m ? [3, 16, 24] : [2, 3, 5], { patch: [1, 2, 2], channels: 'last' }), c.ref.unpatchify(tokens.r, m ? [3, 16, 24] : [2, 3, 5], { patch: [1, 2, 2], channels: 'last' })));
        return checks;
      },
    },
  ];
}
