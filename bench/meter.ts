import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { applyUpdate, itemSize, kbUnits, updatedItemSize } from './item-size.ts';

/**
 * Counts what the handlers ask of AWS: every S3 and DynamoDB request by command (HTTP attempts, so
 * retries count as AWS bills them), and the DynamoDB capacity units each one consumed, by table.
 * Consumed capacity is asked for on every command that can return it, and taken as DynamoDB Local
 * reports it, with two corrections where Local departs from AWS (checked by hand against Local 3.3):
 *
 * - TransactWriteItems: Local reports about one item's units per table, however many items the
 *   transaction writes. The units are computed here instead, as AWS bills them: 2 per KB of the larger
 *   of each item's old and new image, plus 2 per local index entry written or removed. The images are
 *   known because every transaction of this process goes through the metered client: the meter keeps
 *   the size and index keys of each item a transaction put, and a copy of each item it updated.
 *   (Checked: for one-item transactions, where Local is right, the two agree.)
 * - BatchExecuteStatement: Local reports no capacity; each statement that succeeded is billed like a
 *   put of the item it leaves (1 per KB of the larger image, 1 per local index entry written).
 * - Reads of nothing: Local reports 0 for a missing key or an empty query page, where AWS charges the
 *   minimum read (1 unit strongly consistent, 0.5 eventually consistent).
 */
export interface CommandTally {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** requests that failed, e.g. transactions cancelled by contention (their capacity is unknown) */
  failures: number;
  /** wall time spent in these requests, ms */
  ms: number;
  /** TransactWriteItems: what DynamoDB Local itself reported, for comparison with the computed units */
  reportedWriteUnits?: number;
  /** S3 PutObject: bytes stored */
  bytes?: number;
}

export interface Tally {
  /** `<service>:<command>`, e.g. `ddb:TransactWriteItems`, `s3:PutObject` */
  byCommand: Record<string, CommandTally>;
  /** `<table>:<read|write>` → units; `<table>/<index>` for index capacity */
  byTable: Record<string, number>;
  /** CPU the meter's own accounting took (µs), to take out of the handler's CPU */
  meterUs: number;
}

interface Capacity {
  TableName?: string;
  CapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  LocalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const CAPACITY_COMMANDS = new Set(['BatchExecuteStatement', 'GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems', 'TransactGetItems']);

export function emptyTally(): Tally {
  return { byCommand: {}, byTable: {}, meterUs: 0 };
}

/** The local index sort keys of each table, by short name. */
export type IndexKeys = Record<string, readonly { name: string; sortKey: string }[]>;

type TxItem = {
  Put?: { TableName: string; Item: Record<string, unknown> };
  Update?: { TableName: string; Key: Record<string, unknown>; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> };
  Delete?: { TableName: string; Key: Record<string, unknown> };
  ConditionCheck?: { TableName: string; Key: Record<string, unknown> };
};

export class Meter {
  private tally = emptyTally();
  /** what transactions left, by `<table>|<pk>|<sk>`: sizes of put items, copies of updated ones */
  private readonly putSizes = new Map<string, number>();
  private readonly indexValues = new Map<string, unknown[]>();
  private readonly updated = new Map<string, Record<string, unknown>>();
  constructor(
    /** physical table name → short name (`lidless-runs` → `runs`) */
    private readonly shortName: (table: string) => string = (t) => t,
    private readonly indexKeys: IndexKeys = {},
  ) {}

  /** The meter's own accounting CPU so far (µs), to take out of CPU measured around calls. */
  accountingUs(): number {
    return this.tally.meterUs;
  }

  /** Requests to AWS counted so far. */
  requests(): number {
    return Object.values(this.tally.byCommand).reduce((n, c) => n + c.requests, 0);
  }

  /** Forgets what was counted and returns it. */
  take(): Tally {
    const t = this.tally;
    this.tally = emptyTally();
    return t;
  }

  private command(key: string): CommandTally {
    this.tally.byCommand[key] ??= { requests: 0, readUnits: 0, writeUnits: 0, failures: 0, ms: 0 };
    return this.tally.byCommand[key]!;
  }

  private addCapacity(command: string, c: Capacity): number {
    const read = READS.has(command);
    const table = this.shortName(c.TableName ?? '?');
    const total = c.CapacityUnits ?? 0;
    const kind = read ? 'read' : 'write';
    // with INDEXES, the table's own part and each index's part are given apart
    const own = c.Table?.CapacityUnits ?? total;
    this.tally.byTable[`${table}:${kind}`] = (this.tally.byTable[`${table}:${kind}`] ?? 0) + own;
    for (const [name, v] of Object.entries({ ...c.LocalSecondaryIndexes, ...c.GlobalSecondaryIndexes })) {
      this.tally.byTable[`${table}/${name}:${kind}`] = (this.tally.byTable[`${table}/${name}:${kind}`] ?? 0) + (v.CapacityUnits ?? 0);
    }
    return total;
  }

  private addUnits(key: string, units: number): void {
    this.tally.byTable[key] = (this.tally.byTable[key] ?? 0) + units;
  }

  private record(service: 'ddb' | 's3', command: string, attempts: number, ms: number, capacity: Capacity | Capacity[] | undefined, failed: boolean): CommandTally {
    const t = this.command(`${service}:${command}`);
    t.requests += attempts;
    t.ms += ms;
    if (failed) t.failures += 1;
    for (const c of capacity === undefined ? [] : Array.isArray(capacity) ? capacity : [capacity]) {
      const units = this.addCapacity(command, c);
      if (READS.has(command)) t.readUnits += units;
      else t.writeUnits += units;
    }
    return t;
  }

  /**
   * The writes of a BatchExecuteStatement that succeeded, as puts: Local reports no capacity for them.
   * An INSERT is a put of its VALUE; the project's UPDATEs set every attribute but the key (a run item
   * is rewritten whole), so they are puts of the key and their SETs too.
   */
  private statementUnits(statements: { Statement: string; Parameters?: unknown[] }[], responses: { Error?: { Code?: string }; TableName?: string }[]): number {
    const puts: TxItem[] = [];
    let failedUnits = 0;
    statements.forEach((st, i) => {
      const table = /"([^"]+)"/.exec(st.Statement)?.[1] ?? '?';
      const code = responses[i]?.Error?.Code;
      if (code === 'ConditionalCheckFailed' || code === 'DuplicateItem') {
        // a write whose condition fails is billed too, by the size of the item it found
        const params = st.Parameters ?? [];
        const key = st.Statement.startsWith('INSERT') ? [params[0], params[1]] : params.slice(-3, -1);
        const found = this.putSizes.get(`${this.shortName(table)}|${String(key[0])}|${String(key[1])}`) ?? 0;
        failedUnits += kbUnits(found);
        this.addUnits(`${this.shortName(table)}:write`, kbUnits(found));
        return;
      }
      if (code) return;
      const params = st.Parameters ?? [];
      const item: Record<string, unknown> = {};
      if (st.Statement.startsWith('INSERT')) {
        [...st.Statement.matchAll(/'([^']+)': \?/g)].forEach((m, j) => (item[m[1]!] = params[j]));
      } else {
        const sets = [...st.Statement.matchAll(/SET "([^"]+)" = \?/g)].map((m) => m[1]!);
        sets.forEach((name, j) => (item[name] = params[j]));
        item.pk = params[sets.length];
        item.sk = params[sets.length + 1];
      }
      puts.push({ Put: { TableName: table, Item: item } });
    });
    return failedUnits + this.writeUnits(puts, 1);
  }

  /** The units of a committed transaction, item by item (see the class comment). */
  private transactionUnits(items: TxItem[]): number {
    return this.writeUnits(items, 2);
  }

  /** Write units of puts, updates and deletes, `factor` per KB (2 in a transaction). */
  private writeUnits(items: TxItem[], factor: number): number {
    let total = 0;
    for (const it of items) {
      const op = it.Put ?? it.Update ?? it.Delete ?? it.ConditionCheck;
      if (!op) continue;
      const table = this.shortName(op.TableName);
      const key = it.Put ? it.Put.Item : (op as { Key: Record<string, unknown> }).Key;
      const id = `${table}|${String(key.pk)}|${String(key.sk)}`;
      let size: number;
      if (it.Put) {
        const now = itemSize(it.Put.Item);
        size = Math.max(now, this.putSizes.get(id) ?? 0);
        this.putSizes.set(id, now);
      } else if (it.Update) {
        const before = this.updated.get(id);
        const after = applyUpdate(before, it.Update);
        if (after) this.updated.set(id, after);
        size = after ? Math.max(itemSize(after), before ? itemSize(before) : 0) : updatedItemSize(it.Update);
      } else {
        size = this.putSizes.get(id) ?? itemSize(key);
      }
      const units = factor * kbUnits(size);
      this.addUnits(`${table}:write`, units);
      total += units;
      // a local index entry (KEYS_ONLY: under 1 KB) is written when an index key appears, removed when
      // it goes, both when it changes; a put that keeps the index keys writes nothing to the index
      const indexes = this.indexKeys[table] ?? [];
      if (it.Put && indexes.length) {
        const before = this.indexValues.get(id) ?? [];
        const after = indexes.map((ix) => it.Put!.Item[ix.sortKey]);
        indexes.forEach((ix, i) => {
          const writes = before[i] === after[i] ? 0 : (before[i] === undefined ? 0 : 1) + (after[i] === undefined ? 0 : 1);
          if (writes === 0) return;
          this.addUnits(`${table}/${ix.name}:write`, factor * writes);
          total += factor * writes;
        });
        this.indexValues.set(id, after);
      }
    }
    return total;
  }

  /** Capacity of a read as AWS bills it: Local's figure, raised to the minimum for keys or pages that found nothing. */
  private readUnits(command: string, input: Record<string, unknown>, output: Record<string, unknown>, reported: Capacity[]): void {
    const min = (consistent: unknown) => (consistent ? 1 : 0.5);
    if (command === 'GetItem' || command === 'Query') {
      const c = reported[0];
      const floor = min(input.ConsistentRead);
      if (c && (c.CapacityUnits ?? 0) < floor) {
        const table = this.shortName(String(input.TableName));
        this.addUnits(`${table}:read`, floor - (c.CapacityUnits ?? 0));
        this.command(`ddb:${command}`).readUnits += floor - (c.CapacityUnits ?? 0);
      }
    } else if (command === 'BatchGetItem') {
      const req = input.RequestItems as Record<string, { Keys: unknown[]; ConsistentRead?: boolean }>;
      const got = (output.Responses ?? {}) as Record<string, unknown[]>;
      const left = (output.UnprocessedKeys ?? {}) as Record<string, { Keys?: unknown[] }>;
      for (const [name, r] of Object.entries(req)) {
        const missing = r.Keys.length - (got[name]?.length ?? 0) - (left[name]?.Keys?.length ?? 0);
        if (missing <= 0) continue;
        const units = missing * min(r.ConsistentRead);
        this.addUnits(`${this.shortName(name)}:read`, units);
        this.command('ddb:BatchGetItem').readUnits += units;
      }
    }
  }

  /** Adds the counting middleware to a DynamoDB document client (its stack is the base client's). */
  instrumentDynamo(ddb: DynamoDBDocumentClient): void {
    ddb.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '?').replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        if (CAPACITY_COMMANDS.has(command)) input.ReturnConsumedCapacity = 'INDEXES';
        const started = performance.now();
        try {
          const out = await next(args);
          const ms = performance.now() - started;
          const accounting = performance.now();
          const output = out.output as Record<string, unknown> & { ConsumedCapacity?: Capacity | Capacity[]; $metadata?: { attempts?: number } };
          const attempts = output.$metadata?.attempts ?? 1;
          const reported = output.ConsumedCapacity === undefined ? [] : Array.isArray(output.ConsumedCapacity) ? output.ConsumedCapacity : [output.ConsumedCapacity];
          if (command === 'TransactWriteItems') {
            const t = this.record('ddb', command, attempts, ms, undefined, false);
            t.writeUnits += this.transactionUnits(input.TransactItems as TxItem[]);
            t.reportedWriteUnits = (t.reportedWriteUnits ?? 0) + reported.reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
          } else if (command === 'BatchExecuteStatement') {
            const t = this.record('ddb', command, attempts, ms, undefined, false);
            t.writeUnits += this.statementUnits(input.Statements as never, (output.Responses ?? []) as never);
          } else {
            this.record('ddb', command, attempts, ms, reported, false);
            if (READS.has(command)) this.readUnits(command, input, output, reported);
          }
          // synchronous work: its wall time is its CPU time
          this.tally.meterUs += (performance.now() - accounting) * 1000;
          return out;
        } catch (err) {
          this.record('ddb', command, (err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1, performance.now() - started, undefined, true);
          throw err;
        }
      },
      { step: 'initialize', name: 'benchMeter', override: true },
    );
  }

  instrumentS3(s3: S3Client): void {
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '?').replace(/Command$/, '');
        const body = (args.input as { Body?: unknown }).Body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          const t = this.command(`s3:${command}`);
          t.bytes = (t.bytes ?? 0) + (typeof body === 'string' ? Buffer.byteLength(body) : body.length);
        }
        const started = performance.now();
        try {
          const out = await next(args);
          this.record('s3', command, (out.output as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1, performance.now() - started, undefined, false);
          return out;
        } catch (err) {
          this.record('s3', command, (err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1, performance.now() - started, undefined, true);
          throw err;
        }
      },
      { step: 'initialize', name: 'benchMeter', override: true },
    );
  }
}
