/**
 * What both GEMM kernels share (WGSL snippets): the uniform block and the prologue that maps
 * workgroup t of a chunk to (batch z, row tile) = divmod(chunk base + t, rowTiles) and to
 * the element offsets `ao`, `bo` of its a and b matrices over up to 4 broadcast batch axes.
 */
export const MATMUL_UNIFORMS = `struct U { M: u32, N: u32, K: u32, rowTiles: u32, base: u32, count: u32, offA: u32, offB: u32, offOut: u32, offBias: u32, pad0: u32, pad1: u32,
  dims: vec4<u32>, aStr: vec4<u32>, bStr: vec4<u32> }`;

/** Declares t, g, z, row0 (= row tile * tileM), col0 (= wid.z * tileN), ao, bo; returns early past the chunk. */
export function matmulPrologue(tileM: number, tileN: number): string {
  return `let t = wid.y * nwg.x + wid.x;
  if (t >= u.count) { return; }
  let g = u.base + t;
  let z = g / u.rowTiles;
  let row0 = (g % u.rowTiles) * ${tileM}u;
  let col0 = wid.z * ${tileN}u;
  var rem = z;
  var za = 0u;
  var zb = 0u;
  for (var ax = 3; ax >= 0; ax--) {
    let c = rem % u.dims[ax];
    rem = rem / u.dims[ax];
    za += c * u.aStr[ax];
    zb += c * u.bStr[ax];
  }
  let ao = u.offA + za * u.M * u.K;
  let bo = u.offB + zb * u.K * u.N;`;
}
