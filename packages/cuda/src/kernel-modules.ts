import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnsupportedFeatureError } from '@mod-dit/tensor';
import { checkCu } from './cuda-error.js';
import { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED, type CudaContext, readHandle } from './driver.js';
import { type KernelArg, packArgs } from './launch-args.js';

/** The .cu files under kernels/ every device loads, each compiled to one module. */
export const KERNEL_SOURCES = ['ops', 'attention', 'attention_simple'] as const;
/** Modules that exist only as an sm_90a cubin (wgmma kernels), loaded on Hopper when built. */
export const HOPPER_SOURCES = ['attention_sm90'] as const;
export type KernelSource = (typeof KERNEL_SOURCES)[number] | (typeof HOPPER_SOURCES)[number];

/** Which compiled image a device loads: the sm_90a cubin on Hopper, else PTX the driver JITs. */
export interface ImageChoice {
  kind: 'cubin' | 'ptx';
  /** File name suffix under dist/kernels/: `<source>.<suffix>`. */
  suffix: string;
}

export function chooseImage(cc: readonly [number, number]): ImageChoice {
  if (cc[0] === 9 && cc[1] === 0) return { kind: 'cubin', suffix: 'sm_90a.cubin' };
  if (cc[0] >= 8) return { kind: 'ptx', suffix: 'compute_80.ptx' };
  throw new UnsupportedFeatureError(`compute capability ${cc[0]}.${cc[1]} is below 8.0: the bf16 tensor-core kernels need sm_80+`);
}

/** dist/kernels next to the built bundle, or the package's dist/kernels when running from src/. */
export function kernelDir(): string {
  for (const rel of ['./kernels/', '../dist/kernels/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new UnsupportedFeatureError('compiled CUDA kernels not found (dist/kernels): run `pnpm --filter @mod-dit/cuda build` (needs nvcc)');
}

/** Launch geometry of one kernel call. */
export interface LaunchConfig {
  grid: readonly [number, number?, number?];
  block: number;
  sharedBytes?: number;
}

/** The loaded modules of one context; functions are looked up once and cached by name. */
export class KernelModules {
  private readonly modules = new Map<KernelSource, bigint>();
  private readonly functions = new Map<string, bigint>();
  private readonly sharedRaised = new Map<bigint, number>();

  constructor(private readonly ctx: CudaContext, dir = kernelDir()) {
    const choice = chooseImage(ctx.info.computeCapability);
    const optional = choice.kind === 'cubin' ? HOPPER_SOURCES.filter((src) => existsSync(`${dir}/${src}.${choice.suffix}`)) : [];
    for (const src of [...KERNEL_SOURCES, ...optional]) {
      const file = `${dir}/${src}.${choice.suffix}`;
      if (!existsSync(file)) throw new UnsupportedFeatureError(`CUDA kernel image ${file} is missing: rebuild @mod-dit/cuda`);
      const bytes = readFileSync(file);
      // PTX is text the driver parses as a C string
      const image = choice.kind === 'ptx' ? Buffer.concat([bytes, Buffer.from([0])]) : bytes;
      const out = Buffer.alloc(8);
      checkCu(`cuModuleLoadData(${src}.${choice.suffix})`, ctx.api.cuModuleLoadData(out, image));
      this.modules.set(src, readHandle(out));
    }
  }

  /** Whether `source` was loaded (the Hopper-only modules are absent elsewhere). */
  has(source: KernelSource): boolean {
    return this.modules.has(source);
  }

  private fn(source: KernelSource, name: string): bigint {
    const key = `${source}:${name}`;
    let f = this.functions.get(key);
    if (f === undefined) {
      const out = Buffer.alloc(8);
      checkCu(`cuModuleGetFunction(${name})`, this.ctx.api.cuModuleGetFunction(out, this.modules.get(source)!, name));
      f = readHandle(out);
      this.functions.set(key, f);
    }
    return f;
  }

  /** Enqueues `name` from `source` on the context's stream. */
  launch(source: KernelSource, name: string, cfg: LaunchConfig, args: readonly KernelArg[]): void {
    const f = this.fn(source, name);
    const smem = cfg.sharedBytes ?? 0;
    // raised for any dynamic size: static __shared__ variables also count against the 48 KiB default
    if (smem > 0 && (this.sharedRaised.get(f) ?? 0) < smem) {
      checkCu(`cuFuncSetAttribute(${name}, max dynamic shared ${smem})`, this.ctx.api.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED, smem));
      this.sharedRaised.set(f, smem);
    }
    const [gx, gy = 1, gz = 1] = cfg.grid;
    checkCu(
      `cuLaunchKernel(${name})`,
      this.ctx.api.cuLaunchKernel(f, gx, gy, gz, cfg.block, 1, 1, smem, this.ctx.stream, packArgs(args), null),
    );
  }

  destroy(): void {
    for (const m of this.modules.values()) checkCu('cuModuleUnload', this.ctx.api.cuModuleUnload(m));
    this.modules.clear();
    this.functions.clear();
  }
}
