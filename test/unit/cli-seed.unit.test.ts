import { describe, expect, it } from 'vitest';
import { generateDataset } from '../../cli/seed/generate.ts';
import { batchesOf } from '../../cli/seed/send.ts';
import { parseNativeBatch } from '../../shared/formats/native.ts';
import { findPrice } from '../../shared/pricing/price.ts';
import { USEFUL_OUTCOMES } from '../../shared/model.ts';

const END = Date.UTC(2026, 10, 20);
const DAY = 86_400_000;

describe('seed dataset generator', () => {
  const dataset = generateDataset({ seed: 3, days: 5, runs: 300, end: END });
  const steps = dataset.events.filter((e) => e.type === 'step');

  it('gives the same events for the same seed and other events for another seed', () => {
    expect(generateDataset({ seed: 3, days: 5, runs: 300, end: END })).toEqual(dataset);
    expect(generateDataset({ seed: 4, days: 5, runs: 300, end: END }).events[0]).not.toEqual(dataset.events[0]);
  });

  it('produces only events that the native ingest format accepts, with unique ids', () => {
    for (const batch of batchesOf(dataset)) expect(parseNativeBatch({ events: batch.events }).rejected).toEqual([]);
    expect(new Set(dataset.events.map((e) => e.id)).size).toBe(dataset.events.length);
    expect(dataset.runs).toHaveLength(300);
    expect(new Set(dataset.runs.map((r) => r.runId)).size).toBe(300);
  });

  it('spreads runs over every day of the range and never past its end', () => {
    const starts = dataset.runs.map((r) => Date.parse(r.startedAt));
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(END - 5 * DAY);
    const times = dataset.events.flatMap((e) => (e.type === 'step' ? [e.startedAt, e.endedAt ?? e.startedAt] : [e.timestamp])).map(Date.parse);
    expect(Math.max(...times)).toBeLessThan(END);
    expect(new Set(dataset.runs.map((r) => r.startedAt.slice(0, 10))).size).toBe(5);
  });

  it('covers several repos, branches, agents and priced models, and useful and useless outcomes', () => {
    expect(new Set(dataset.runs.map((r) => r.repo)).size).toBeGreaterThanOrEqual(4);
    expect(new Set(dataset.runs.map((r) => r.branch)).size).toBeGreaterThanOrEqual(8);
    expect(new Set(dataset.runs.map((r) => r.agent))).toEqual(new Set(['claude-code', 'codex', 'gemini-cli']));
    const models = new Set(steps.flatMap((s) => (s.model ? [s.model] : [])));
    expect(models.size).toBeGreaterThanOrEqual(6);
    for (const model of models) expect(findPrice(model, END), model).toBeDefined();
    const outcomes = dataset.runs.map((r) => r.outcome);
    expect(outcomes.filter((o) => o && USEFUL_OUTCOMES.has(o)).length).toBeGreaterThan(100);
    expect(outcomes).toContain('rejected');
    expect(outcomes).toContain('none');
  });

  it('has failing runs with error steps, provider errors retried in a run, and failed runs retried as new runs', () => {
    const failed = dataset.runs.filter((r) => r.status === 'failed');
    expect(failed.length).toBeGreaterThan(20);
    for (const run of failed) {
      expect(steps.some((s) => s.runId === run.runId && s.status === 'error'), run.runId).toBe(true);
    }
    expect(steps.filter((s) => s.kind === 'retry').length).toBeGreaterThan(5);
    const retries = dataset.runs.filter((r) => r.retryOf);
    expect(retries.length).toBeGreaterThan(5);
    for (const r of retries) {
      const original = dataset.runs.find((o) => o.runId === r.retryOf)!;
      expect(original.status).toBe('failed');
      expect(Date.parse(r.startedAt)).toBeGreaterThan(Date.parse(original.startedAt));
    }
  });

  it('builds runs of about 5 to 15 steps of llm, tool, test and ci kinds', () => {
    const perRun = new Map<string, number>();
    for (const s of steps) perRun.set(s.runId, (perRun.get(s.runId) ?? 0) + 1);
    const finishedOk = dataset.runs.filter((r) => r.status === 'succeeded').map((r) => perRun.get(r.runId)!);
    const mean = finishedOk.reduce((a, b) => a + b, 0) / finishedOk.length;
    expect(mean).toBeGreaterThanOrEqual(7);
    expect(mean).toBeLessThanOrEqual(15);
    expect(new Set(steps.map((s) => s.kind))).toEqual(new Set(['agent', 'llm', 'tool', 'test', 'lint', 'ci', 'retry']));
  });

  it('sends every event in batches of at most 500, and resends only the batches of runs marked for it', () => {
    const batches = batchesOf(dataset);
    expect(Math.max(...batches.map((b) => b.events.length))).toBeLessThanOrEqual(500);
    const sent = batches.flatMap((b) => b.events.map((e) => e.id));
    expect(sent.sort()).toEqual(dataset.events.map((e) => e.id).sort());
    const resent = new Set(dataset.runs.filter((r) => r.resend).map((r) => r.runId));
    expect(resent.size).toBeGreaterThan(0);
    for (const b of batches) expect(b.events.every((e) => resent.has(e.runId))).toBe(b.resend);
    // whole runs stay together when they fit
    const small = batchesOf(dataset, 100);
    expect(Math.max(...small.map((b) => b.events.length))).toBeLessThanOrEqual(100);
    const batchesPerRun = new Map<string, number>();
    for (const b of small) for (const runId of new Set(b.events.map((e) => e.runId))) batchesPerRun.set(runId, (batchesPerRun.get(runId) ?? 0) + 1);
    expect(Math.max(...batchesPerRun.values())).toBe(1);
  });
});
