/**
 * Staging f16 operands through workgroup memory for the subgroup-matrix kernels.
 *
 * Loads from storage go through `array<vec4<u32>>` (16-byte loads); subgroup-matrix loads
 * from storage were several times slower on NVIDIA (docs/benchmarks.md). Fragments then load
 * from an `array<f16>` in workgroup memory, which must be 16-byte aligned. NVIDIA's Vulkan
 * driver does not keep WGSL's declaration order for workgroup variables, so a lone u32
 * placed before an f16 array leaves it 4-byte aligned and fragment loads from it read
 * garbage (seen on the H100 once Dawn's robustness was off): every workgroup variable of
 * these kernels is a multiple of 16 bytes, scalars included (`array<u32, 4>`).
 */

/** WGSL statements writing the 8 f16 of the vec4<u32> `w` to `arr[at .. at + 8)`. */
export function storeHalves8(arr: string, at: string, w = 'w'): string {
  return [0, 1, 2, 3].map((x) => `{ let h = bitcast<vec2<f16>>(${w}[${x}]); ${arr}[${at} + ${2 * x}u] = h.x; ${arr}[${at} + ${2 * x + 1}u] = h.y; }`).join(' ');
}
