/**
 * Rendering for people: aligned tables, money, counts, durations, UTC times and the step tree.
 * Scripts use `--json` instead, which prints the API's answer as it is.
 */
export interface Column {
  header: string;
  /** numbers read best right-aligned */
  align?: 'left' | 'right';
}

const EMPTY = '-';

export function table(columns: readonly Column[], rows: readonly (readonly string[])[], footer: readonly (readonly string[])[] = []): string {
  const all = [columns.map((c) => c.header), ...rows, ...footer];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return c.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), ...rows.map(line)];
  if (footer.length) out.push(widths.map((w) => '─'.repeat(w)).join('  '), ...footer.map(line));
  return out.join('\n');
}

/** `label value` lines with the labels aligned. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

const grouping = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n: number | undefined): string {
  return n === undefined ? EMPTY : grouping.format(n);
}

/** Dollars: four decimals under $10 (step and run costs are often cents), two above. */
export function money(usd: number | null | undefined): string {
  if (usd === undefined || usd === null) return EMPTY;
  if (usd === 0) return '$0';
  if (Math.abs(usd) < 10) return `$${usd.toFixed(4)}`;
  return `$${new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(usd)}`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return EMPTY;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSec = Math.round(ms / 1000);
  const h = Math.floor(totalSec / 3600);
  const m = Math.floor((totalSec % 3600) / 60);
  const s = totalSec % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s).padStart(2, '0')}s`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` in UTC (tables say UTC in their header). */
export function utc(isoTime: string | undefined): string {
  if (!isoTime) return EMPTY;
  const d = new Date(isoTime);
  return Number.isNaN(d.getTime()) ? isoTime : d.toISOString().slice(0, 19).replace('T', ' ');
}

export function orDash(v: string | undefined | null): string {
  return v === undefined || v === null || v === '' ? EMPTY : v;
}

export function truncate(s: string, max: number): string {
  const oneLine = s.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

export interface TreeNode {
  id: string;
  parentId?: string;
}

/**
 * Orders nodes as a depth-first tree by parent id, each with the prefix that draws its branch.
 * Nodes whose parent is unknown (or that sit in a cycle) are shown at the top level; the input order
 * (start order) is kept among siblings.
 */
export function treeOrder<T extends TreeNode>(nodes: readonly T[]): { node: T; prefix: string }[] {
  const ids = new Set(nodes.map((n) => n.id));
  const children = new Map<string | undefined, T[]>();
  for (const n of nodes) {
    const parent = n.parentId !== undefined && ids.has(n.parentId) && n.parentId !== n.id ? n.parentId : undefined;
    const list = children.get(parent) ?? [];
    list.push(n);
    children.set(parent, list);
  }
  const out: { node: T; prefix: string }[] = [];
  const visited = new Set<string>();
  const walk = (parent: string | undefined, indent: string, depth: number) => {
    const kids = (children.get(parent) ?? []).filter((k) => !visited.has(k.id));
    kids.forEach((k, i) => {
      visited.add(k.id);
      const last = i === kids.length - 1;
      out.push({ node: k, prefix: depth === 0 ? '' : `${indent}${last ? '└─ ' : '├─ '}` });
      walk(k.id, depth === 0 ? '' : `${indent}${last ? '   ' : '│  '}`, depth + 1);
    });
  };
  walk(undefined, '', 0);
  // steps in a parent cycle have no way down from the top: show them at the top level
  for (const n of nodes) {
    if (visited.has(n.id)) continue;
    visited.add(n.id);
    out.push({ node: n, prefix: '' });
    walk(n.id, '', 1);
  }
  return out;
}
