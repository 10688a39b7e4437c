import { describe, expect, it } from 'vitest';
import { count, duration, money, table, treeOrder, utc } from '../../cli/format.ts';

describe('CLI rendering', () => {
  it('aligns table columns, numbers to the right, with a totals line under a rule', () => {
    // Act
    const text = table(
      [{ header: 'KEY' }, { header: 'COST', align: 'right' }],
      [
        ['claude-sonnet-4-5', '$1.2000'],
        ['gpt-5', '$12.50'],
      ],
      [['TOTAL', '$13.70']],
    );

    // Assess
    expect(text.split('\n')).toEqual([
      'KEY                   COST',
      'claude-sonnet-4-5  $1.2000',
      'gpt-5               $12.50',
      '─────────────────  ───────',
      'TOTAL               $13.70',
    ]);
  });

  it('writes money, counts, durations and times the way people read them', () => {
    expect([money(0), money(0.01234), money(3.5), money(1234.5), money(null)]).toEqual(['$0', '$0.0123', '$3.5000', '$1,234.50', '-']);
    expect([count(1234567), count(undefined)]).toEqual(['1,234,567', '-']);
    expect([duration(850), duration(12_345), duration(245_000), duration(3_725_000), duration(undefined)]).toEqual(['850ms', '12.3s', '4m 05s', '1h 02m', '-']);
    expect(utc('2026-11-20T10:00:01.123Z')).toBe('2026-11-20 10:00:01');
  });

  it('draws steps as a tree by parent, keeping start order among siblings', () => {
    // Prepare
    const steps = [
      { id: 'root' },
      { id: 'llm1', parentId: 'root' },
      { id: 'tool1', parentId: 'llm1' },
      { id: 'tool2', parentId: 'llm1' },
      { id: 'test', parentId: 'root' },
    ];

    // Act
    const lines = treeOrder(steps).map(({ node, prefix }) => `${prefix}${node.id}`);

    // Assess
    expect(lines).toEqual(['root', '├─ llm1', '│  ├─ tool1', '│  └─ tool2', '└─ test']);
  });

  it('shows steps with an unknown parent, or in a parent cycle, at the top level instead of losing them', () => {
    // Act
    const ids = treeOrder([
      { id: 'a', parentId: 'missing' },
      { id: 'x', parentId: 'y' },
      { id: 'y', parentId: 'x' },
      { id: 'self', parentId: 'self' },
    ]).map(({ node }) => node.id);

    // Assess
    expect(ids.sort()).toEqual(['a', 'self', 'x', 'y']);
  });
});
