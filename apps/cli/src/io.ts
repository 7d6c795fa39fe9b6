/** Where a command writes: process streams in the binary, buffers in tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}
