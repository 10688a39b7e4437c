import { describe, expect, it } from 'vitest';
import { parseNativeBatch } from '../../shared/formats/native.ts';
import { parseLogs, parseTraces } from '../../shared/formats/otlp/index.ts';
import { applyEvents, MAX_RUN_ATTRIBUTES_CHARS, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { MAX_MODEL_CHARS, MAX_RUN_FIELD_CHARS } from '../../shared/model.ts';

/**
 * Values that end up in keys and run items are bounded, so a long (but otherwise valid) value is
 * refused on its own or kept within the limit, instead of failing the storage write with a 503.
 */
const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const iso = new Date(T0).toISOString();
const ns = (ms: number) => `${ms}000000`;
const kv = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value: { stringValue: value } }));

describe('native events', () => {
  it('refuses a run event whose attributes are too large for a run item, naming the field', () => {
    // Act
    const batch = parseNativeBatch({
      events: [
        { type: 'run', id: 'big', runId: 'r', timestamp: iso, attributes: { blob: 'x'.repeat(20_000) } },
        { type: 'run', id: 'ok', runId: 'r', timestamp: iso, attributes: { note: 'x'.repeat(10_000) } },
      ],
    });

    // Assess
    expect(batch.items.map((i) => i.event.eventId)).toEqual(['ok']);
    expect(batch.rejected).toEqual([{ index: 0, id: 'big', error: expect.stringMatching(/^attributes: must be at most 16384 characters as JSON/) }]);
  });

  it('refuses a model name longer than any model has, and a trace id longer than an id', () => {
    // Act
    const batch = parseNativeBatch({
      events: [
        { type: 'step', id: 'm', runId: 'r', stepId: 's', kind: 'llm', name: 'chat', startedAt: iso, model: 'm'.repeat(MAX_MODEL_CHARS + 1) },
        { type: 'run', id: 't', runId: 'r', timestamp: iso, traceId: 'f'.repeat(129) },
        { type: 'step', id: 'fine', runId: 'r', stepId: 's2', kind: 'llm', name: 'chat', startedAt: iso, model: 'm'.repeat(MAX_MODEL_CHARS) },
      ],
    });

    // Assess
    expect(batch.rejected.map((r) => r.error.split(':')[0])).toEqual(['model', 'traceId']);
    expect(batch.items).toHaveLength(1);
  });
});

describe('OTLP spans and records', () => {
  it('rejects a span whose model name or repository is too long, and keeps the others', () => {
    // Prepare
    const span = (spanId: string, attrs: Record<string, string>) => ({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId,
      startTimeUnixNano: ns(T0),
      endTimeUnixNano: ns(T0 + 10),
      attributes: kv({ 'gen_ai.operation.name': 'chat', ...attrs }),
    });
    const request = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                span('1111111111111111', { 'gen_ai.request.model': 'm'.repeat(70_000) }),
                span('2222222222222222', { 'vcs.repository.name': 'r'.repeat(MAX_RUN_FIELD_CHARS + 1) }),
                span('3333333333333333', { 'gen_ai.request.model': 'gpt-4o', 'vcs.repository.name': 'web' }),
              ],
            },
          ],
        },
      ],
    };

    // Act
    const batch = parseTraces(request, T0);

    // Assess
    expect(batch.rejected.map((r) => r.error)).toEqual([
      `span 0: the model name must be at most ${MAX_MODEL_CHARS} characters`,
      `span 1: vcs.repository.name must be at most ${MAX_RUN_FIELD_CHARS} characters`,
    ]);
    expect(batch.items).toHaveLength(1);
  });

  it('rejects agent records with an overlong model or service name', () => {
    // Prepare
    const record = (attrs: Record<string, string>) => ({ timeUnixNano: ns(T0), attributes: kv({ 'event.name': 'claude_code.api_request', 'session.id': 's', ...attrs }) });
    const request = (service: string, records: unknown[]) => ({ resourceLogs: [{ resource: { attributes: kv({ 'service.name': service }) }, scopeLogs: [{ logRecords: records }] }] });

    // Act
    const models = parseLogs(request('claude-code', [record({ model: 'm'.repeat(MAX_MODEL_CHARS + 1) }), record({ model: 'claude-sonnet-4-5' })]), T0);
    const services = parseLogs(request('s'.repeat(MAX_RUN_FIELD_CHARS + 1), [record({ model: 'claude-sonnet-4-5' })]), T0);

    // Assess
    expect(models.rejected.map((r) => r.error)).toEqual([`log record 0: model must be at most ${MAX_MODEL_CHARS} characters`]);
    expect(models.items).toHaveLength(1);
    expect(services.rejected.map((r) => r.error)).toEqual([`log record 0: service.name must be at most ${MAX_RUN_FIELD_CHARS} characters`]);
  });
});

describe('run attributes across events', () => {
  it('stay within the run item budget however many run events add to them, earlier keys kept', () => {
    // Prepare: 20 events of 15 KB each, each within the per-event limit
    const events = Array.from({ length: 20 }, (_, i): PricedEvent => ({
      type: 'run',
      eventId: `e${i}`,
      runId: 'r',
      at: T0 + i,
      redactions: 0,
      run: { attributes: { [`k${i}`]: 'x'.repeat(15_000) } },
    }));

    // Act
    const state = applyEvents(undefined, 'r', events);
    const updated = applyEvents(state, 'r', [{ type: 'run', eventId: 'small', runId: 'r', at: T0, redactions: 0, run: { attributes: { k0: 'replaced', note: 'kept' } } }]);

    // Assess
    expect(JSON.stringify(state.attributes).length).toBeLessThanOrEqual(MAX_RUN_ATTRIBUTES_CHARS);
    expect(Object.keys(state.attributes)).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(updated.attributes).toMatchObject({ k0: 'replaced', note: 'kept' });
  });

  it('keep a __proto__ key as data', () => {
    // Act
    const state = applyEvents(undefined, 'r', [{ type: 'run', eventId: 'p', runId: 'r', at: T0, redactions: 0, run: { attributes: JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown> } }]);

    // Assess
    expect(Object.getPrototypeOf(state.attributes)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(JSON.stringify(state.attributes)).toBe('{"__proto__":{"polluted":true}}');
  });
});

