import type { AlertRule } from '../store/control-table.ts';
import { durationMs, slotOf, type PricedEvent, type RunState } from '../aggregate/run-state.ts';
import { durationBin, type Counters } from '../aggregate/cells.ts';
import { isWindowMetric, runMatches } from './rules.ts';

/**
 * What a request adds to the counters of each windowed rule (per 5-minute slot). Only rules that
 * exist are counted, so a tenant without windowed rules pays nothing for them; a rule counts what
 * arrives after it was created. Counts are incremental: cost of the new steps where they were
 * incurred, and a run once, at the slot it finished, when it finishes in this request.
 */
export interface WindowDelta {
  ruleId: string;
  slot: number;
  counters: Counters;
}

export function windowDeltas(rules: readonly AlertRule[], before: RunState | undefined, after: RunState, fresh: readonly PricedEvent[]): WindowDelta[] {
  const out = new Map<string, WindowDelta>();
  const add = (ruleId: string, slot: number, counters: Counters) => {
    const key = `${ruleId}|${slot}`;
    const cur = out.get(key) ?? { ruleId, slot, counters: {} };
    for (const [k, v] of Object.entries(counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
    out.set(key, cur);
  };
  const finishedNow = after.status !== 'running' && (before === undefined || before.status === 'running') && after.endedAt !== undefined;
  for (const rule of rules) {
    if (!isWindowMetric(rule.metric)) continue;
    const modelFilter = rule.filters?.model;
    if (rule.metric === 'cost_usd') {
      if (!runMatches({ ...rule.filters, model: undefined }, after)) continue;
      for (const e of fresh) {
        if (e.type !== 'step' || !e.costNanos) continue;
        if (modelFilter !== undefined && e.step.model !== modelFilter) continue;
        add(rule.ruleId, slotOf(e.step.startedAt), { costNanos: e.costNanos });
      }
    } else if (finishedNow && runMatches(rule.filters, after)) {
      const duration = durationMs(after) ?? 0;
      const bin = durationBin(duration);
      // a histogram of durations (h: runs, d: their summed duration, per bin) for the p95
      add(rule.ruleId, slotOf(after.endedAt!), { finished: 1, failed: after.status === 'failed' ? 1 : 0, [`h${bin}`]: 1, [`d${bin}`]: duration });
    }
  }
  return [...out.values()];
}
