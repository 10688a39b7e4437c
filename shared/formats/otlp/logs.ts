import { createHash } from 'node:crypto';
import { MAX_MODEL_CHARS } from '../../model.ts';
import type { LogLevel, NormalizedEvent, ParsedBatch, ParsedItem, Rejection, RunFields } from '../../model.ts';
import { anyValueToJs, attributesToObject, isRecord, readString } from './attributes.ts';
import type { Attributes } from './attributes.ts';
import { claudeCode } from './agents/claude-code.ts';
import { codex } from './agents/codex.ts';
import { gemini } from './agents/gemini.ts';
import type { AgentLogAdapter, AgentMapping } from './agents/types.ts';
import { SPAN_ID_BYTES, TRACE_ID_BYTES, toHexId } from './ids.ts';
import { resolveRunId, runFieldsFrom } from './identity.ts';
import { nanosToMs } from './time.ts';
import { walkRequest } from './walk.ts';
import type { Scoped } from './walk.ts';

/**
 * OTLP logs → events. Coding agents report API calls and tool calls as log events; the agent's adapter
 * turns those into `llm` / `tool` steps and its API errors into `error` logs. Every other record is kept
 * as a log event whose level follows its severity (not counted by the aggregator unless it is an error).
 * Agent log sessions have no end signal, so runs made from logs never get a status here.
 * `request` is an `ExportLogsServiceRequest` in OTLP JSON object form (see proto.ts for protobuf).
 */
const AGENTS: readonly AgentLogAdapter[] = [claudeCode, codex, gemini];

export function parseLogs(request: unknown, _receivedAt: number): ParsedBatch {
  const records = walkRequest(request, { resources: 'resourceLogs', scopes: 'scopeLogs', items: 'logRecords' });
  const items: ParsedItem[] = [];
  const rejected: Rejection[] = [];
  records.forEach((scoped, index) => {
    try {
      items.push(recordToItem(scoped));
    } catch (err) {
      rejected.push({ index, error: `log record ${index}: ${(err as Error).message}` });
    }
  });
  return { source: 'otlp.logs', total: records.length, items, rejected };
}

function recordToItem({ item: record, resourceAttributes, resourceAttributeList, scope }: Scoped): ParsedItem {
  if (!isRecord(record)) throw new Error('must be an object');
  const at =
    field('timeUnixNano', () => nanosToMs(record.timeUnixNano)) ??
    field('observedTimeUnixNano', () => nanosToMs(record.observedTimeUnixNano));
  if (at === undefined) throw new Error('missing timeUnixNano and observedTimeUnixNano');
  const traceId = field('traceId', () => toHexId(record.traceId, TRACE_ID_BYTES));
  const spanId = field('spanId', () => toHexId(record.spanId, SPAN_ID_BYTES));
  const attrs = attributesToObject(record.attributes);
  const sets = [attrs, resourceAttributes];
  const runId = resolveRunId(sets, traceId);
  if (!runId) throw new Error('no run identity (lidless.run.id, session.id, gen_ai.conversation.id, conversation.id or a trace id)');

  const name = eventNameOf(attrs, record);
  const chosen = name === undefined ? undefined : chooseAgent(name, resourceAttributes);
  const mapping = chosen?.adapter.map({ event: chosen.event, fullName: chosen.fullName, attrs, at }) ?? genericLog(record, name);

  const hash = recordHash(resourceAttributes, scope, record, attrs, traceId, spanId);
  const eventId = `otlp.log:${hash}`;
  const { status: _ignored, ...fields } = runFieldsFrom(sets, chosen?.adapter.agent);
  const run: RunFields = { ...fields, startedAt: at, ...(traceId ? { traceId } : {}) };

  return {
    event: toEvent(mapping, { eventId, runId, run, at, hash, spanId, attrs }),
    raw: {
      resource: { attributes: resourceAttributeList },
      scope,
      logRecord: { ...record, ...(traceId ? { traceId } : {}), ...(spanId ? { spanId } : {}) },
    },
  };
}

function toEvent(
  mapping: AgentMapping,
  ctx: { eventId: string; runId: string; run: RunFields; at: number; hash: string; spanId?: string; attrs: Attributes },
): NormalizedEvent {
  const base = { eventId: ctx.eventId, runId: ctx.runId, run: ctx.run };
  if (mapping.type === 'step') {
    if ((mapping.step.model?.length ?? 0) > MAX_MODEL_CHARS) throw new Error(`model must be at most ${MAX_MODEL_CHARS} characters`);
    // The record's hash is a stable step id: a re-sent export maps to the same step.
    return { ...base, type: 'step', step: { stepId: ctx.hash, ...mapping.step } };
  }
  const event: NormalizedEvent = { ...base, type: 'log', at: ctx.at, level: mapping.level, message: mapping.message };
  if (ctx.spanId) event.stepId = ctx.spanId;
  if (Object.keys(ctx.attrs).length > 0) event.attributes = ctx.attrs;
  return event;
}

/** Runs a field reader, prefixing its error with the field name. */
function field<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new Error(`${name} ${(err as Error).message}`);
  }
}

/**
 * The event name: `event.name` (possibly short, like `api_request`), the record's `eventName`, or a body
 * that is itself an agent's event name (Claude Code puts the full name there). A full, prefixed name
 * wins over a short one.
 */
function eventNameOf(attrs: Attributes, record: Record<string, unknown>): string | undefined {
  const named = [readString(attrs, 'event.name'), typeof record.eventName === 'string' ? record.eventName : undefined]
    .filter((name): name is string => !!name);
  const body = anyValueToJs(record.body);
  const candidates = typeof body === 'string' ? [...named, body] : named;
  return candidates.find((name) => AGENTS.some((agent) => name.startsWith(agent.prefix))) ?? named[0];
}

/** The agent adapter for an event name: by prefix, else by `service.name`, else by a known short name. */
function chooseAgent(
  name: string,
  resourceAttributes: Attributes,
): { adapter: AgentLogAdapter; event: string; fullName: string } | undefined {
  const byPrefix = AGENTS.find((agent) => name.startsWith(agent.prefix));
  if (byPrefix) return { adapter: byPrefix, event: name.slice(byPrefix.prefix.length), fullName: name };
  const service = readString(resourceAttributes, 'service.name');
  const adapter =
    AGENTS.find((agent) => service !== undefined && agent.serviceNames.includes(service)) ??
    AGENTS.find((agent) => agent.shortNames.includes(name));
  return adapter ? { adapter, event: name, fullName: adapter.prefix + name } : undefined;
}

/** A record no adapter maps: a log event at its severity's level, its body (or name) as the message. */
function genericLog(record: Record<string, unknown>, name: string | undefined): AgentMapping {
  const body = anyValueToJs(record.body);
  const message =
    typeof body === 'string' && body !== '' ? body : body !== null && body !== undefined ? JSON.stringify(body) : (name ?? 'log record');
  return { type: 'log', level: levelOf(record.severityNumber, record.severityText), message };
}

const SEVERITY_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const LEVEL_BY_SEVERITY: readonly LogLevel[] = ['debug', 'debug', 'info', 'warn', 'error', 'error'];

/** OTLP severity 1–8 debug, 9–12 info, 13–16 warn, 17–24 error; else the severity text; else info. */
export function levelOf(severityNumber: unknown, severityText: unknown): LogLevel {
  const number = severityNumberOf(severityNumber);
  if (number !== undefined && number >= 1 && number <= 24) return LEVEL_BY_SEVERITY[Math.floor((number - 1) / 4)]!;
  if (typeof severityText === 'string') {
    const text = severityText.trim().toUpperCase();
    if (/^(ERROR|FATAL|CRIT|ALERT|EMERG|SEVERE)/.test(text)) return 'error';
    if (text.startsWith('WARN')) return 'warn';
    if (text.startsWith('DEBUG') || text.startsWith('TRACE')) return 'debug';
  }
  return 'info';
}

function severityNumberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const match = /^SEVERITY_NUMBER_([A-Z]+)(\d)?$/.exec(value);
  const index = match ? SEVERITY_NAMES.indexOf(match[1]!) : -1;
  return index >= 0 ? index * 4 + Number(match![2] ?? 1) : undefined;
}

/**
 * A stable hash of the record and its resource, so that a re-sent export yields the same event id and
 * is counted as a duplicate. It hashes normalised values (attributes as objects, ids in hex, times as
 * decimal strings), so the key order and number spellings of the sender do not matter.
 */
function recordHash(
  resourceAttributes: Attributes,
  scope: { name?: string; version?: string },
  record: Record<string, unknown>,
  attrs: Attributes,
  traceId: string | undefined,
  spanId: string | undefined,
): string {
  const canonical = canonicalJson({
    resource: resourceAttributes,
    scope,
    timeUnixNano: nanosText(record.timeUnixNano),
    observedTimeUnixNano: nanosText(record.observedTimeUnixNano),
    severityNumber: severityNumberOf(record.severityNumber),
    severityText: record.severityText,
    body: anyValueToJs(record.body),
    attributes: attrs,
    eventName: record.eventName,
    traceId,
    spanId,
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

function nanosText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value)).toString();
  return typeof value === 'string' ? value.replace(/^0+(?=\d)/, '') : undefined;
}

/** JSON with object keys sorted at every depth and undefined values left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
