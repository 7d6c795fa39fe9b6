/**
 * The one place that turns a kernel spec into a pipeline: a spec has a key naming every
 * choice that changes the shader (op, dtypes, tile sizes, features) and a generator for its
 * WGSL. Pipelines are compiled once per key and reused; no op compiles per call.
 */
export interface KernelSpec {
  /** Unique per distinct shader, e.g. `matmul/f16/tb1/bias0/64x64`. */
  readonly key: string;
  /** Generates the WGSL source (called once per key). */
  wgsl(): string;
}

export class KernelCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly sources = new Map<string, string>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** The compiled pipeline of `spec` (compiled on first use). */
  pipeline(spec: KernelSpec): GPUComputePipeline {
    let p = this.pipelines.get(spec.key);
    if (!p) {
      const code = spec.wgsl();
      this.sources.set(spec.key, code);
      const module = this.device.createShaderModule({ code, label: spec.key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: spec.key });
      this.pipelines.set(spec.key, p);
    }
    return p;
  }

  /** The WGSL compiled for `key`, if any (diagnostics). */
  source(key: string): string | undefined {
    return this.sources.get(key);
  }
}
