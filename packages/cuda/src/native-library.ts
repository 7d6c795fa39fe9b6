import koffi from 'koffi';

/**
 * Loads a shared library through koffi and binds each C declaration in `signatures` under
 * its function name; throws koffi's error where the library is missing.
 */
export function bindLibrary<Api>(path: string, signatures: readonly string[]): Api {
  const lib = koffi.load(path);
  const api: Record<string, unknown> = {};
  for (const sig of signatures) {
    const name = /\s\**(\w+)\(/.exec(sig)?.[1];
    if (!name) throw new TypeError(`not a C function declaration: ${sig}`);
    api[name] = lib.func(sig);
  }
  return api as Api;
}
