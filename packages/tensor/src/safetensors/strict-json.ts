import { SafetensorsError } from '../errors.js';

/** A JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses the JSON `text` of a header or index, which must be an object with no key repeated
 * in any of its objects. Throws SafetensorsError naming `file` (and the repeated key).
 */
export function parseJsonObject(text: string, file: string, what: 'header' | 'index'): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(json)) throw new SafetensorsError(file, `${what} JSON is not an object`);
  const duplicate = findDuplicateJsonKey(text);
  if (duplicate !== undefined) throw new SafetensorsError(file, `listed twice in the ${what}`, duplicate);
  return json;
}

/**
 * Returns the first key that appears twice in one object of `json`, or undefined.
 * `JSON.parse` silently keeps the last duplicate, which would hide a tensor listed twice
 * in a header or an index. `json` must already be valid JSON (this scans, it does not validate).
 */
function findDuplicateJsonKey(json: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        const seen = open[open.length - 1] as Set<string>;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectKey = open[open.length - 1] instanceof Set;
    }
  }
  return undefined;
}
