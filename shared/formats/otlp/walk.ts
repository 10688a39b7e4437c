import { BadRequestError, PayloadTooLargeError } from '../../errors.ts';
import { attributesToObject, isRecord } from './attributes.ts';
import type { Attributes } from './attributes.ts';

/**
 * Walks the resource → scope → item nesting shared by the three OTLP export requests. A request whose
 * envelope has the wrong shape is a bad request as a whole; a malformed item is the caller's to reject
 * on its own.
 */
export interface Scoped {
  resourceAttributes: Attributes;
  /** the resource attributes as received (OTLP JSON form), for the raw copy */
  resourceAttributeList: unknown[];
  scope: { name?: string; version?: string };
  item: unknown;
}

/**
 * Items (spans, log records, data points) one request may hold: far more than 5 MB of real telemetry
 * holds, and few enough that a body of empty ones is refused before each is looked at and rejected.
 */
export const MAX_ITEMS = 200_000;

export function assertItemCount(count: number): void {
  if (count > MAX_ITEMS) throw new PayloadTooLargeError(`the export holds more than ${MAX_ITEMS} items; send it in smaller requests`);
}

export function walkRequest(
  request: unknown,
  keys: { resources: string; scopes: string; items: string },
): Scoped[] {
  if (!isRecord(request)) throw new BadRequestError('body must be an OTLP export request object');
  const out: Scoped[] = [];
  listAt(request, keys.resources, keys.resources).forEach((resourceEntry, r) => {
    const path = `${keys.resources}[${r}]`;
    if (!isRecord(resourceEntry)) throw new BadRequestError(`${path} must be an object`);
    const resource = isRecord(resourceEntry.resource) ? resourceEntry.resource : {};
    const resourceAttributeList = Array.isArray(resource.attributes) ? resource.attributes : [];
    const resourceAttributes = attributesToObject(resourceAttributeList);
    listAt(resourceEntry, keys.scopes, path).forEach((scopeEntry, s) => {
      const scopePath = `${path}.${keys.scopes}[${s}]`;
      if (!isRecord(scopeEntry)) throw new BadRequestError(`${scopePath} must be an object`);
      const scope = scopeOf(scopeEntry.scope);
      const items = listAt(scopeEntry, keys.items, scopePath);
      assertItemCount(out.length + items.length);
      for (const item of items) out.push({ resourceAttributes, resourceAttributeList, scope, item });
    });
  });
  return out;
}

function listAt(container: Record<string, unknown>, key: string, path: string): unknown[] {
  const value = container[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new BadRequestError(`${path === key ? key : `${path}.${key}`} must be an array`);
  return value;
}

function scopeOf(value: unknown): { name?: string; version?: string } {
  const scope: { name?: string; version?: string } = {};
  if (isRecord(value)) {
    if (typeof value.name === 'string' && value.name !== '') scope.name = value.name;
    if (typeof value.version === 'string' && value.version !== '') scope.version = value.version;
  }
  return scope;
}
