/**
 * DynamoDB item sizes as AWS bills them (attribute names plus values: strings and binaries by their
 * bytes, numbers about one byte per two significant digits plus one, 3 bytes per list or map plus one
 * per element), for the requests where DynamoDB Local's reported capacity cannot be used.
 */
function numberSize(n: number | bigint): number {
  const digits = String(n).replace(/^-/, '').replace('.', '').replace(/e.*$/i, '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueSize(v: unknown): number {
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (typeof v === 'number' || typeof v === 'bigint') return numberSize(v);
  if (v instanceof Uint8Array) return v.length;
  if (v instanceof Set) {
    let n = 0;
    for (const x of v) n += valueSize(x);
    return n;
  }
  if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + valueSize(x) + 1, 0);
  if (typeof v === 'object') {
    // a NumberValue of lib-dynamodb, or a map
    if ('value' in (v as object) && Object.keys(v as object).length === 1 && typeof (v as { value: unknown }).value === 'string') {
      return numberSize(Number((v as { value: string }).value));
    }
    return 3 + Object.entries(v as Record<string, unknown>).reduce((n, [k, x]) => n + Buffer.byteLength(k) + valueSize(x) + 1, 0);
  }
  return 1;
}

/** The size of an item given as a plain object of attributes. */
export function itemSize(item: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) if (v !== undefined) n += Buffer.byteLength(k) + valueSize(v);
  return n;
}

/**
 * A fallback for an update expression `applyUpdate` does not understand: the key and every attribute
 * the expression names, with the values it gives (an under-estimate when the item holds more).
 */
export function updatedItemSize(u: { Key: Record<string, unknown>; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> }): number {
  let n = itemSize(u.Key);
  for (const name of Object.values(u.ExpressionAttributeNames ?? {})) n += Buffer.byteLength(name);
  for (const v of Object.values(u.ExpressionAttributeValues ?? {})) n += valueSize(v);
  return n;
}

export const kbUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

type Update = { Key: Record<string, unknown>; UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> };

/** Splits on commas outside parentheses. */
function topLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/**
 * Applies an UpdateItem's expression to a copy of the item it finds (SET with plain values,
 * `if_not_exists` and `+`/`-`, ADD of numbers and sets, REMOVE), so that the item's size after the
 * update is known exactly. Returns undefined for an expression it does not understand.
 */
export function applyUpdate(before: Record<string, unknown> | undefined, u: Update): Record<string, unknown> | undefined {
  const item: Record<string, unknown> = { ...(before ?? u.Key) };
  const names = u.ExpressionAttributeNames ?? {};
  const values = u.ExpressionAttributeValues ?? {};
  const attr = (p: string) => names[p.trim()] ?? p.trim();
  const value = (v: string) => (v.trim() in values ? values[v.trim()] : undefined);
  const num = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0));
  const clauses = (u.UpdateExpression ?? '').split(/\b(SET|ADD|REMOVE|DELETE)\b/i).slice(1);
  for (let i = 0; i < clauses.length; i += 2) {
    const kind = clauses[i]!.toUpperCase();
    for (const part of topLevel(clauses[i + 1] ?? '')) {
      if (kind === 'SET') {
        const eq = part.indexOf('=');
        const target = attr(part.slice(0, eq));
        const rhs = part.slice(eq + 1).trim();
        const ifNotExists = /^if_not_exists\(\s*([^,]+),\s*(:[\w]+)\s*\)$/i.exec(rhs);
        const arith = /^([#\w]+)\s*([+-])\s*(:[\w]+)$/.exec(rhs);
        if (ifNotExists) {
          if (item[attr(ifNotExists[1]!)] === undefined) item[target] = value(ifNotExists[2]!);
        } else if (arith) item[target] = num(item[attr(arith[1]!)]) + (arith[2] === '-' ? -1 : 1) * num(value(arith[3]!));
        else if (rhs.startsWith(':')) item[target] = value(rhs);
        else return undefined;
      } else if (kind === 'ADD') {
        const [path, v] = part.split(/\s+/) as [string, string];
        const target = attr(path);
        const add = value(v);
        if (add instanceof Set) item[target] = new Set([...((item[target] as Set<unknown> | undefined) ?? []), ...add]);
        else item[target] = num(item[target]) + num(add);
      } else if (kind === 'REMOVE') {
        delete item[attr(part)];
      } else return undefined;
    }
  }
  return item;
}
