import { ModelOutputError } from './errors.js';

/** Classifier-free guidance: v = v_uncond + scale (v_cond - v_uncond). */
export function guide(vCond: Float32Array, vUncond: Float32Array, scale: number): Float32Array {
  if (vCond.length !== vUncond.length) throw new ModelOutputError(`guidance: cond velocity has ${vCond.length} elements, uncond ${vUncond.length}`);
  const out = new Float32Array(vCond.length);
  for (let j = 0; j < out.length; j++) out[j] = vUncond[j] + scale * (vCond[j] - vUncond[j]);
  return out;
}
