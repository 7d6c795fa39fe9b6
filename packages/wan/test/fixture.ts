import { fileURLToPath } from 'node:url';
import { toFloat32 } from '@mod-dit/tensor';
import { SafetensorsFile } from '@mod-dit/tensor/safetensors';

/** The golden fixture written by tools/reference/wan_reference.py --tiny (float64 PyTorch on CPU). */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export interface Golden {
  tensors: Map<string, { shape: readonly number[]; data: Float32Array | Int32Array }>;
  run: { steps: number; shift: number; guidance: number };
}

export async function readGolden(model: 'tiny-t2v' | 'tiny-i2v'): Promise<Golden> {
  const f = await SafetensorsFile.open(fixturePath(`${model}.io.safetensors`));
  try {
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array | Int32Array }>();
    for (const name of f.tensors.keys()) {
      const t = await f.read(name);
      tensors.set(name, { shape: t.shape, data: t.dtype === 'i32' ? (t.data as Int32Array) : Float32Array.from(toFloat32(t.data, t.dtype)) });
    }
    return { tensors, run: JSON.parse(f.metadata.run) };
  } finally {
    await f.close();
  }
}

export function f32(g: Golden, name: string): Float32Array {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`fixture lacks ${name}`);
  return t.data as Float32Array;
}

