import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { parse, time } from '../../cli/args.ts';
import { UsageError } from '../../cli/errors.ts';

/** The command line, without a server: dispatch, usage errors and exit codes. */
function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env } };
}

describe('lidless command line', () => {
  it('prints the command overview on --help and exits 0', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(0);
    expect(t.out.join('\n')).toMatch(/runs list[\s\S]*costs[\s\S]*LIDLESS_TOKEN/);
  });

  it("prints a command's own options on <command> --help", async () => {
    const t = io();
    expect(await main(['costs', '--help'], t.io)).toBe(0);
    expect(t.out.join('\n')).toContain('--group-by <g>');
  });

  it('answers an unknown command with the usage on stderr and exit code 2', async () => {
    const t = io();
    expect(await main(['frobnicate'], t.io)).toBe(2);
    expect(t.err[0]).toMatch(/^lidless: unknown command "frobnicate"\n\nusage: lidless <command>/);
    expect(t.out).toEqual([]);
  });

  it('lists the sub-commands when a group is named without one', async () => {
    const t = io();
    expect(await main(['runs'], t.io)).toBe(2);
    expect(t.err[0]).toContain('lidless: runs: give a command (list, show, trace)');
  });

  it('rejects an unknown option or a bad value with exit code 2 before calling the server', async () => {
    const unknown = io({ LIDLESS_TOKEN: 'ldl_abcd_0123456789abcdef0123' });
    expect(await main(['runs', 'list', '--colour', 'red'], unknown.io)).toBe(2);
    expect(unknown.err[0]!.split('\n')[0]).toBe("lidless: unknown option '--colour'");

    const badGroup = io({ LIDLESS_TOKEN: 'ldl_abcd_0123456789abcdef0123' });
    expect(await main(['costs', '--group-by', 'colour'], badGroup.io)).toBe(2);
    expect(badGroup.err[0]!.split('\n')[0]).toBe('lidless: --group-by must be one of day, model, repo, agent, outcome, branch');
  });

  it('fails in one line with exit code 1 when no token is set', async () => {
    const t = io({});
    expect(await main(['tenants'], t.io)).toBe(1);
    expect(t.err).toHaveLength(1);
    expect(t.err[0]).toMatch(/^lidless: LIDLESS_TOKEN is not set/);
    expect(t.err[0]).not.toContain('\n');
  });

  it('fails in one line with exit code 1 when the server cannot be reached', async () => {
    // Prepare: a port that was free a moment ago
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const t = io({ LIDLESS_URL: `http://127.0.0.1:${port}`, LIDLESS_TOKEN: 'ldl_abcd_0123456789abcdef0123' });

    // Act
    const code = await main(['runs', 'list', '--tenant', 'tn_x'], t.io);

    // Assess
    expect(code).toBe(1);
    expect(t.err).toEqual([`lidless: cannot reach Lidless at http://127.0.0.1:${port} (ECONNREFUSED); is it running? LIDLESS_URL sets the address`]);
  });
});

describe('time options', () => {
  const p = (args: string[]) => parse(args, { from: { type: 'string' }, to: { type: 'string' } }, 'usage');

  it('takes a date as the start of that day, and as an upper bound as the end of that day', () => {
    const args = p(['--from', '2026-11-01', '--to', '2026-11-07']);
    expect(new Date(time(args, 'from', 'u', 'from')!).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(new Date(time(args, 'to', 'u', 'to')!).toISOString()).toBe('2026-11-08T00:00:00.000Z');
  });

  it('takes an ISO time as it is, in UTC when it names no zone', () => {
    const args = p(['--from', '2026-11-01T10:00:00+02:00', '--to', '2026-11-01T12:30']);
    expect(new Date(time(args, 'from', 'u', 'from')!).toISOString()).toBe('2026-11-01T08:00:00.000Z');
    expect(new Date(time(args, 'to', 'u', 'to')!).toISOString()).toBe('2026-11-01T12:30:00.000Z');
  });

  it('rejects what is not a time as a usage error', () => {
    expect(() => time(p(['--from', 'yesterday']), 'from', 'u', 'from')).toThrow(UsageError);
    expect(() => time(p(['--from', '2026-02-30']), 'from', 'u', 'from')).toThrow(/is not a date/);
  });
});
