import type { Backend } from '../backend.js';
import { ShapeError } from '../errors.js';
import { broadcastShapes, fmtShape, shapeEquals } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastMap } from './broadcast.js';
import { checkFloat } from './checks.js';
import { type MakeTensor } from './copy.js';
import { encode } from './host.js';

type Binary = (a: number, b: number) => number;

/** Checks add / sub / mul operands; returns the broadcast output shape (the output has a's dtype). */
export function validateBinary(backend: Backend, op: string, a: Tensor, b: Tensor): number[] {
  checkFloat(backend, op, 'a', a);
  checkFloat(backend, op, 'b', b);
  return broadcastShapes(a.shape, b.shape, op);
}

/** add / sub / mul: broadcast shape, a's dtype. */
export function binary(backend: Backend, make: MakeTensor, op: string, a: Tensor, b: Tensor, fn: Binary): Tensor {
  const shape = validateBinary(backend, op, a, b);
  return make(encode(broadcastMap(shape, [a, b], fn), a.dtype), shape, a.dtype);
}

/** Checks that `t` (named `name`) broadcasts to x's shape (x named `xName`) without widening it. */
export function checkBroadcastsTo(op: string, xName: string, x: Tensor, name: string, t: Tensor): void {
  const s = broadcastShapes(x.shape, t.shape, `${op} (${xName} with ${name})`);
  if (!shapeEquals(s, x.shape)) throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} must broadcast to ${xName} ${fmtShape(x.shape)}, it widens it to ${fmtShape(s)}`);
}

/** Checks modulate (names x, scale, shift) / gatedAdd (x, y, gate): the two others must broadcast to x's shape. */
export function validateTernary(backend: Backend, op: string, names: readonly [string, string, string], x: Tensor, y: Tensor, z: Tensor): void {
  checkFloat(backend, op, names[0], x);
  checkFloat(backend, op, names[1], y);
  checkFloat(backend, op, names[2], z);
  checkBroadcastsTo(op, names[0], x, names[1], y);
  checkBroadcastsTo(op, names[0], x, names[2], z);
}

/** modulate / gatedAdd: x's shape and dtype. */
export function ternary(backend: Backend, make: MakeTensor, op: string, names: readonly [string, string, string], x: Tensor, y: Tensor, z: Tensor, fn: (x: number, y: number, z: number) => number): Tensor {
  validateTernary(backend, op, names, x, y, z);
  return make(encode(broadcastMap(x.shape, [x, y, z], fn), x.dtype), x.shape, x.dtype);
}
