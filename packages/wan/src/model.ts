import { Tensor, keep, scope, type Backend, type DType, type MatmulActivation } from '@mod-dit/tensor';
import type { AttentionPlan, Branch, MaskScheduler } from '@mod-dit/scheduler';
import { ropeSplit, tokenGrid, type LatentShape, type WanConfig } from './config.js';
import { WanInputError } from './errors.js';
import { geluErf, hostLayerNorm, hostLinear, timestepSinusoid } from './host-math.js';
import { OpClock } from './op-clock.js';
import type { WanWeights } from './weights.js';

/** One self-attention call's outcome, for reports. */
export interface AttentionCallRecord {
  step: number;
  layer: number;
  branch: Branch;
  kind: AttentionPlan['kind'];
  /** Fraction of the score matrix skipped (0 for dense calls). */
  sparsity: number;
  /** The call did not run: the other guidance branch's result was reused ({@link WanForwardArgs.prefix}). */
  shared?: boolean;
}

/** Options of {@link WanModel}. */
export interface WanModelOptions {
  /** Routes every self-attention call through MOD-DiT's scheduler; dense everywhere when absent. */
  scheduler?: MaskScheduler;
  /** Accumulates time per op category. */
  clock?: OpClock;
  /** Receives every self-attention call's plan and sparsity. */
  onAttention?: (r: AttentionCallRecord) => void;
  /** Receives each block sparsity map [heads, n, n] before the scheduler observes it. */
  onMap?: (site: { step: number; layer: number; branch: Branch }, map: Float32Array) => void;
}

/** Arguments of one {@link WanModel.forward}. */
export interface WanForwardArgs {
  /** Noisy latent [outDim, T, H, W]: host float32, or an f32 tensor on this model's backend ({@link WanModel.forwardTensor}). */
  latent: Float32Array | Tensor;
  shape: LatentShape;
  /** The (integer) timestep Wan's schedule gives this step. */
  timestep: number;
  /** Embedded text context from {@link WanModel.embedText}. */
  context: Tensor;
  /** Embedded CLIP tokens from {@link WanModel.embedImage} (I2V). */
  image?: Tensor;
  /** I2V conditioning [inDim - outDim, T, H, W] (mask + image latent), host float32. */
  condition?: Float32Array;
  /** The scheduler call site: denoising step and guidance branch. Default step 0, branch 0. */
  step?: number;
  branch?: Branch;
  /**
   * Classifier-free guidance on the device: layer 0's self-attention stage (its residual update
   * and norm3) depends on the latent and the timestep only (the text enters at the
   * cross-attention), so the branches can compute it once. 'store' keeps it after this forward;
   * 'reuse' takes it when the stored one came from the same latent tensor, timestep and step (and
   * layer 0's plan is dense), else computes it. Applies to tensor latents; y must be the same.
   */
  prefix?: 'store' | 'reuse';
}

/** Layer 0's self-attention stage, kept for the other guidance branch. */
interface SharedPrefix {
  latent: Tensor;
  timestep: number;
  step: number;
  sum: Tensor;
  norm: Tensor;
}

const F32: DType = 'f32';

/** adaLN's scale and shift rows of a modulation [1, n, C]: shift at row `shiftRow`, scale right after it (Wan's order). */
function adaLN(m: Tensor, shiftRow: number): { scale: Tensor; shift: Tensor } {
  return { scale: m.slice(1, shiftRow + 1, shiftRow + 2), shift: m.slice(1, shiftRow, shiftRow + 1) };
}

/**
 * The Wan2.1 DiT forward (wan/modules/model.py) on any Backend. The residual stream and the
 * modulation stay in f32; norms compute in f32 and round once into what consumes them: the
 * compute dtype for GEMM inputs and for q/k after RMSNorm and RoPE, as Wan does under bf16
 * autocast (its norms return type_as(x)). GEMMs and attention run in the weights' compute
 * dtype. Block stages run inside `scope()`, so their temporaries are freed as each ends.
 */
export class WanModel {
  readonly config: WanConfig;
  private readonly cdt: DType;
  private shared?: SharedPrefix;

  constructor(
    readonly backend: Backend,
    readonly weights: WanWeights,
    private readonly opts: WanModelOptions = {},
  ) {
    this.config = weights.config;
    this.cdt = weights.compute;
  }

  /** Text embeddings [L, textDim] (L <= textLen), zero-padded to textLen rows as Wan does, through the text MLP: [1, textLen, C]. */
  embedText(context: Float32Array, rows: number): Tensor {
    const c = this.config;
    if (!Number.isInteger(rows) || rows < 1 || rows > c.textLen || context.length !== rows * c.textDim)
      throw new WanInputError(`text context: expected [L, ${c.textDim}] with 1 <= L <= ${c.textLen}, got ${context.length} values for L = ${rows}`);
    const padded = new Float32Array(c.textLen * c.textDim);
    padded.set(context);
    return scope(() => {
      const x = this.upload(padded, [1, c.textLen, c.textDim]);
      return this.linear(this.backend.gelu(this.linear(x, 'text_embedding.0')), 'text_embedding.2');
    });
  }

  /**
   * CLIP image features [N, imageDim] through img_emb (LayerNorm eps 1e-5, Linear, exact GELU,
   * Linear, LayerNorm): [1, N, C]. Computed once per run on the host in float64, because the
   * Backend contract has only the tanh GELU.
   */
  async embedImage(features: Float32Array, rows: number): Promise<Tensor> {
    const c = this.config;
    if (c.modelType !== 'i2v') throw new WanInputError(`${c.name} is a text-to-video model: it takes no image features`);
    const D = c.imageDim;
    if (!Number.isInteger(rows) || rows < 1 || features.length !== rows * D) throw new WanInputError(`clip_fea: expected [N, ${D}], got ${features.length} values for N = ${rows}`);
    const w = async (n: string) => this.weights.get(n).toFloat32();
    const x = Float64Array.from(features);
    hostLayerNorm(x, D, await w('img_emb.proj.0.weight'), await w('img_emb.proj.0.bias'), 1e-5);
    const h = hostLinear(x, rows, await w('img_emb.proj.1.weight'), await w('img_emb.proj.1.bias'), D, D).map(geluErf);
    const o = hostLinear(h, rows, await w('img_emb.proj.3.weight'), await w('img_emb.proj.3.bias'), c.dim, D);
    hostLayerNorm(o, c.dim, await w('img_emb.proj.4.weight'), await w('img_emb.proj.4.bias'), 1e-5);
    const out = Float32Array.from(o);
    return scope(() => this.upload(out, [1, rows, c.dim]));
  }

  /** Velocity (flow) prediction [outDim, T, H, W] for the noisy latent at `timestep`, read back to the host. */
  async forward(a: WanForwardArgs): Promise<Float32Array> {
    const v = await this.forwardTensor(a);
    try {
      return await v.toFloat32();
    } finally {
      v.dispose();
    }
  }

  /**
   * The velocity as an f32 tensor [outDim, T, H, W] on the backend (the caller disposes it):
   * the whole forward is enqueued before it resolves, except where a sparsity map must be read
   * for the scheduler.
   */
  async forwardTensor(a: WanForwardArgs): Promise<Tensor> {
    const c = this.config;
    const b = this.backend;
    const clock = this.opts.clock;
    const t0 = performance.now();
    const before = clock?.total() ?? 0;
    const grid = tokenGrid(c, a.shape);
    // bad inputs are refused before the scheduler sees the call
    this.checkInputs(a);
    const site = (layer: number) => ({ step: a.step ?? 0, layer, branch: a.branch ?? 0 });
    const plan0 = this.planOf(site(0));
    const reused = this.takeShared(a, plan0);
    this.record(site(0), plan0, reused !== undefined);
    const freeReused = () => {
      reused?.sum.dispose();
      reused?.norm.dispose();
    };
    // Block i's first norm (adaLN with its modulation m) comes out of block i - 1's last residual
    // update (residualLayerNorm), the head's norm out of the last block's; block 0's is a plain
    // one (not needed when layer 0's self-attention stage is reused).
    const embed = () => scope(() => {
      const sin = this.upload(Float32Array.from(timestepSinusoid(c.freqDim, a.timestep)), [1, c.freqDim]);
      const e = this.f32(this.linear(b.silu(this.linear(sin, 'time_embedding.0')), 'time_embedding.2'));
      const e0 = this.f32(this.linear(b.silu(e), 'time_projection.1')).reshape([1, 6, c.dim]);
      const m = this.modulation(0, e0);
      if (reused) return { m, e, e0 };
      const x = this.cast(this.inputLatent(a));
      const tokens = b.patchify(x, { patch: c.patch, channels: 'first' });
      const pw = this.weights.get('patch_embedding.weight');
      const w = pw.reshape([c.dim, pw.size / c.dim]);
      const h = this.f32(this.gemm(() => b.matmul(tokens, w, { transposeB: true, bias: this.weights.get('patch_embedding.bias') })));
      return { h, hn: b.layerNorm(h, { eps: c.eps, ...adaLN(m, 0), dtype: this.cdt }), m, e, e0 };
    });
    let init: ReturnType<typeof embed>;
    try {
      init = embed();
    } catch (err) {
      freeReused();
      throw err;
    }
    const { e, e0 } = init;
    let { h, hn, m } = init;
    // A layer's map is read and fitted after the next layer is enqueued: the host fits while
    // the GPU runs that layer (backends whose read waits only for earlier work overlap them).
    let pending: { site: { step: number; layer: number; branch: Branch }; map: Tensor } | undefined;
    try {
      for (let i = 0; i < c.layers; i++) {
        const plan = i === 0 ? plan0 : this.plan(site(i));
        const { x, norm, map, next } = scope(() => {
          const next = i + 1 < c.layers ? this.modulation(i + 1, e0) : b.add(this.weights.get('head.modulation'), e.reshape([1, 1, c.dim]));
          // h and hn exist unless layer 0's stage is reused
          const s: { sum: Tensor; norm: Tensor; map?: Tensor } = i === 0 && reused ? reused : this.selfAttention(i, h as Tensor, hn as Tensor, m, grid, plan);
          if (i === 0 && !reused && a.prefix === 'store') this.store(a, s, plan);
          return { ...this.crossAndFfn(i, s, m, next, a.context, a.image), map: s.map, next };
        });
        for (const t of [h, hn, m]) t?.dispose();
        if (i === 0) freeReused();
        [h, hn, m] = [x, norm, next];
        // this layer's map is tracked before the previous one is observed: if that throws, finally frees it
        const prev = pending;
        pending = map && { site: site(i), map };
        if (prev) await this.observe(prev.site, prev.map);
      }
      if (pending) await this.observe(pending.site, pending.map);
      pending = undefined;
      return scope(() => {
        const out = b.unpatchify(this.f32(this.linear(hn as Tensor, 'head.head')), grid, { patch: c.patch, channels: 'last' });
        return out.reshape(out.shape.slice(1));
      });
    } finally {
      pending?.map.dispose();
      for (const t of [h, hn, m, e, e0]) t?.dispose();
      freeReused();
      clock?.settle(performance.now() - t0, before);
    }
  }

  /**
   * The stored layer-0 stage if `a` may reuse it (prefix 'reuse', the same latent tensor,
   * timestep and step, a dense layer-0 plan); a stored stage that does not match is freed.
   */
  private takeShared(a: WanForwardArgs, plan0: AttentionPlan): { sum: Tensor; norm: Tensor } | undefined {
    const s = this.shared;
    this.shared = undefined;
    if (!s) return undefined;
    if (a.prefix === 'reuse' && plan0.kind === 'dense' && s.latent === a.latent && s.timestep === a.timestep && s.step === (a.step ?? 0)) return { sum: s.sum, norm: s.norm };
    s.sum.dispose();
    s.norm.dispose();
    return undefined;
  }

  /** Keeps views of layer 0's self-attention stage (outside every scope) for the other branch. */
  private store(a: WanForwardArgs, s: { sum: Tensor; norm: Tensor }, plan0: AttentionPlan): void {
    if (!(a.latent instanceof Tensor) || plan0.kind !== 'dense') return;
    const view = (t: Tensor) => keep(t.reshape(t.shape));
    this.shared = { latent: a.latent, timestep: a.timestep, step: a.step ?? 0, sum: view(s.sum), norm: view(s.norm) };
  }

  /** Block i's modulation [1, 6, C] for this step's time embedding e0. */
  private modulation(i: number, e0: Tensor): Tensor {
    return this.backend.add(this.weights.get(`blocks.${i}.modulation`), e0);
  }

  /**
   * Block i's self-attention stage on the residual stream x and its adaLN-normed input h
   * (modulation m): q/k through RMSNorm and RoPE in one op each, attention as planned, then the
   * gated residual and norm3 (the cross-attention's input) in one residualLayerNorm. Each stage of
   * a block runs in its own scope, so its temporaries are freed as soon as it ends: the peak is
   * the residual plus the largest stage, not the sum of every temporary of the block (14B at
   * 720p: a few GB instead of ~50).
   */
  private selfAttention(i: number, x: Tensor, h: Tensor, m: Tensor, grid: [number, number, number], plan: AttentionPlan): { sum: Tensor; norm: Tensor; map?: Tensor } {
    const c = this.config;
    const b = this.backend;
    const W = (n: string) => this.weights.get(`blocks.${i}.${n}`);
    const att = scope(() => {
      const q = this.rope(this.linear(h, `blocks.${i}.self_attn.q`), W('self_attn.norm_q.weight'), grid);
      const k = this.rope(this.linear(h, `blocks.${i}.self_attn.k`), W('self_attn.norm_k.weight'), grid);
      const v = this.heads(this.linear(h, `blocks.${i}.self_attn.v`));
      const opts = plan.kind === 'sparse' ? { mask: plan.mask } : plan.kind === 'dense+map' ? { map: { tau: plan.tau, blockSize: plan.blockSize, tokens: plan.tokens, within: plan.within } } : {};
      return this.time('self-attention', () => b.attention(q, k, v, opts));
    });
    att.lse.dispose();
    const r = scope(() =>
      b.residualLayerNorm(x, this.linear(this.merge(att.out), `blocks.${i}.self_attn.o`), { gate: m.slice(1, 2, 3), weight: W('norm3.weight'), bias: W('norm3.bias'), eps: c.eps, dtype: this.cdt }),
    );
    att.out.dispose();
    return att.map ? { ...r, map: att.map } : r;
  }

  /**
   * The rest of block i on its self-attention stage's output s: cross-attention (text, + image
   * for I2V; dense, no gate) ending in the FFN's adaLN norm, then the feed-forward (tanh GELU
   * fused into the first GEMM) ending in the norm with `next`, the next block's (or the head's)
   * modulation.
   */
  private crossAndFfn(i: number, s: { sum: Tensor; norm: Tensor }, m: Tensor, next: Tensor, ctx: Tensor, img: Tensor | undefined): { x: Tensor; norm: Tensor } {
    const c = this.config;
    const b = this.backend;
    const W = (n: string) => this.weights.get(`blocks.${i}.${n}`);
    const cross = scope(() => {
      const cq = this.heads(b.rmsNorm(this.linear(s.norm, `blocks.${i}.cross_attn.q`), W('cross_attn.norm_q.weight'), c.eps));
      const ck = this.heads(b.rmsNorm(this.linear(ctx, `blocks.${i}.cross_attn.k`), W('cross_attn.norm_k.weight'), c.eps));
      let o = this.time('cross-attention', () => b.attention(cq, ck, this.heads(this.linear(ctx, `blocks.${i}.cross_attn.v`))).out);
      if (img) {
        const ik = this.heads(b.rmsNorm(this.linear(img, `blocks.${i}.cross_attn.k_img`), W('cross_attn.norm_k_img.weight'), c.eps));
        const iv = this.heads(this.linear(img, `blocks.${i}.cross_attn.v_img`));
        o = b.add(o, this.time('cross-attention', () => b.attention(cq, ik, iv).out));
      }
      return b.residualLayerNorm(s.sum, this.linear(this.merge(o), `blocks.${i}.cross_attn.o`), { eps: c.eps, ...adaLN(m, 3), dtype: this.cdt });
    });
    const out = scope(() =>
      b.residualLayerNorm(cross.sum, this.linear(this.linear(cross.norm, `blocks.${i}.ffn.0`, 'gelu'), `blocks.${i}.ffn.2`), { gate: m.slice(1, 5, 6), eps: c.eps, ...adaLN(next, 0), dtype: this.cdt }),
    );
    cross.sum.dispose();
    cross.norm.dispose();
    return { x: out.sum, norm: out.norm };
  }

  private plan(site: { step: number; layer: number; branch: Branch }): AttentionPlan {
    const plan = this.planOf(site);
    this.record(site, plan, false);
    return plan;
  }

  private planOf(site: { step: number; layer: number; branch: Branch }): AttentionPlan {
    const s = this.opts.scheduler;
    return s ? this.time('mod', () => s.plan(site)) : { kind: 'dense' };
  }

  private record(site: { step: number; layer: number; branch: Branch }, plan: AttentionPlan, shared: boolean): void {
    this.opts.onAttention?.({ ...site, kind: plan.kind, sparsity: plan.kind === 'sparse' ? 1 - plan.mask.density() : 0, ...(shared ? { shared } : {}) });
  }

  private async observe(site: { step: number; layer: number; branch: Branch }, map: Tensor): Promise<void> {
    const s = this.opts.scheduler as MaskScheduler;
    const run = async () => {
      let data: Float32Array;
      try {
        data = await map.toFloat32();
      } finally {
        map.dispose();
      }
      this.opts.onMap?.(site, data);
      s.observe(site, data);
    };
    await (this.opts.clock ? this.opts.clock.timeAsync('mod', run) : run());
  }

  /** x [.., C] through the Linear `name` (weights in the compute dtype), optionally with a fused activation. */
  private linear(x: Tensor, name: string, activation?: MatmulActivation): Tensor {
    const xc = this.cast(x);
    const opts = { transposeB: true, bias: this.weights.get(`${name}.bias`), ...(activation ? { activation } : {}) };
    return this.gemm(() => this.backend.matmul(xc, this.weights.get(`${name}.weight`), opts));
  }

  private gemm(fn: () => Tensor): Tensor {
    return this.time('gemm', fn);
  }

  private time<T>(cat: 'self-attention' | 'cross-attention' | 'gemm' | 'mod', fn: () => T): T {
    return this.opts.clock ? this.opts.clock.time(cat, fn) : fn();
  }

  /** [1, L, C] -> RMSNorm (over C, `normWeight`) and RoPE -> compute dtype [1, H, L, D] view. */
  private rope(x: Tensor, normWeight: Tensor, grid: [number, number, number]): Tensor {
    const c = this.config;
    const d = c.dim / c.heads;
    const r = this.backend.rope3d(x.reshape([1, x.shape[1], c.heads, d]), { grid, split: ropeSplit(d), theta: 10000, norm: { weight: normWeight, eps: c.eps } });
    return this.cast(r).permute([0, 2, 1, 3]);
  }

  /** [1, L, C] -> [1, H, L, D] view. */
  private heads(x: Tensor): Tensor {
    const c = this.config;
    return x.reshape([1, x.shape[1], c.heads, c.dim / c.heads]).permute([0, 2, 1, 3]);
  }

  /** [1, H, L, D] -> [1, L, C]. */
  private merge(x: Tensor): Tensor {
    return this.backend.contiguous(x.permute([0, 2, 1, 3])).reshape([1, x.shape[2], this.config.dim]);
  }

  private f32(t: Tensor): Tensor {
    return t.dtype === F32 ? t : this.backend.cast(t, F32);
  }

  private cast(t: Tensor): Tensor {
    return t.dtype === this.cdt ? t : this.backend.cast(t, this.cdt);
  }

  private upload(data: Float32Array, shape: number[]): Tensor {
    return this.cast(this.backend.upload(data, shape, F32));
  }

  /** Checks the latent (f32 [outDim, T, H, W], host or tensor) and the I2V conditioning against the config and shape. */
  private checkInputs(a: WanForwardArgs): void {
    const c = this.config;
    const { frames, height, width } = a.shape;
    const plane = frames * height * width;
    const dims = [c.outDim, frames, height, width];
    const given = a.latent instanceof Tensor ? `${a.latent.dtype} [${a.latent.shape.join(', ')}]` : `${a.latent.length} values`;
    const ok = a.latent instanceof Tensor ? a.latent.dtype === F32 && a.latent.shape.length === 4 && a.latent.shape.every((d, i) => d === dims[i]) : a.latent.length === c.outDim * plane;
    if (!ok) throw new WanInputError(`latent: expected [${dims.join(', ')}] (f32, ${c.outDim * plane} values), got ${given}`);
    const extra = c.inDim - c.outDim;
    if (extra === 0 && a.condition) throw new WanInputError(`${c.name} takes no conditioning latent y`);
    if (extra > 0 && (!a.condition || a.condition.length !== extra * plane))
      throw new WanInputError(`y (I2V conditioning): expected [${extra}, ${frames}, ${height}, ${width}] = ${extra * plane} values, got ${a.condition?.length ?? 'none'}`);
  }

  /** The (checked) latent [1, inDim, T, H, W] f32 on the backend, with the I2V conditioning appended along channels. */
  private inputLatent(a: WanForwardArgs): Tensor {
    const c = this.config;
    const { frames, height, width } = a.shape;
    const dims = [c.outDim, frames, height, width];
    const x = (a.latent instanceof Tensor ? a.latent : this.backend.upload(a.latent, dims, F32)).reshape([1, ...dims]);
    const extra = c.inDim - c.outDim;
    if (extra === 0 || !a.condition) return x;
    return this.backend.concat([x, this.backend.upload(a.condition, [1, extra, frames, height, width], F32)], 1);
  }
}
