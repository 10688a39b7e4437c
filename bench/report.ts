import { cpus, totalmem, type as osType, release } from 'node:os';
import type { CostBreakdown } from './prices.ts';
import { round } from './stats.ts';

/**
 * The benchmark's outputs: the figures with their goals as a table on stdout, `bench/results.json`,
 * and BENCHMARKS.md, which shows the latest full run with its machine and command.
 */
export interface Goal {
  figure: string;
  value: number;
  unit: string;
  goal: string;
  pass: boolean;
}

export interface PerMillion {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** mean wall time of one request against the local servers (where the handler's wall time goes) */
  localMsPerRequest: number;
}

export interface Results {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    command: string;
    durationS: number;
    machine: { cpu: string; cores: number; memoryGb: number; node: string; os: string };
    /** the machine's 1-minute load average at the start and the end: other work on it slows the wall-time figures */
    loadAverage: [number, number];
  };
  ingest: {
    eventsPerSecond: number;
    handlerCpuUsPerEvent: number;
    floorCpuUsPerEvent: number;
    cpuRatioToFloor: number;
    /** the handler CPU's two parts: the ingest handler, and the stream handler folding the day cells */
    ingestCpuUsPerEvent: number;
    aggregateCpuUsPerEvent: number;
    /** CPU of one bare AWS SDK round trip (a DynamoDB GetItem) against the same stack, and the ingest handler's S3 and DynamoDB requests per event */
    sdkRoundTripCpuUs: number;
    ingestCallsPerEvent: number;
    /**
     * The least CPU any ingest handler on the AWS SDK could use per event, and its ratio to the floor: the
     * floor's work plus two bare round trips per request (the raw object's PUT and one index write, the
     * fewest a request that is durable and indexed when answered can make), with nothing else done.
     */
    leastCpuUsPerEvent: number;
    leastRatioToFloor: number;
    /** distinct events accepted, and events sent (resent batches count again) */
    uniqueEvents: number;
    eventsSent: number;
    duplicates: number;
    requests: number;
    /** size of an event in the requests: JSON, and gzip as sent */
    jsonBytesPerEvent: number;
    gzipBytesPerEvent: number;
    concurrency: number;
    handlerMsP50: number;
    handlerMsP99: number;
    failedInvocations: number;
    /** invocations of the stream handler that folded these events into the day cells */
    aggregateInvocations: number;
  };
  cost: {
    usdPerMillionEvents: number;
    naiveUsdPerMillionEvents: number;
    /** naive ÷ ours */
    naiveRatio: number;
    breakdown: CostBreakdown;
    naiveBreakdown: CostBreakdown;
    /** per million events, by `<service>:<command>` */
    byCommand: Record<string, PerMillion>;
    /** capacity units per million events, by `<table>[/<index>]:<read|write>` */
    byTable: Record<string, number>;
    naiveSampleEvents: number;
    /** the largest rollup item stored (bytes): over 1024, a transactional cell update costs 4 units */
    largestRollupItemBytes: number;
    /** TransactWriteItems units as DynamoDB Local reported them, per million events (it under-reports; see meter.ts) */
    localReportedTransactUnits: number;
  };
  /** the latencies are the 10× tenant's */
  query: Pick<QuerySize, 'runsGetP50Ms' | 'runsGetP99Ms' | 'runsListP50Ms' | 'runsListP99Ms' | 'rollupP50Ms' | 'rollupP99Ms'> & {
    rollupReadUnitsSmall: number;
    rollupReadUnitsLarge: number;
    rollupReadRatio: number;
    small: QuerySize;
    large: QuerySize;
  };
  /** long sessions, each exported on its own a few events a request (bench/sessions.ts) */
  sessions: {
    sessions: number;
    eventsPerSession: number;
    eventsPerRequest: number;
    accepted: number;
    usdPerMillionEvents: number;
    writeUnitsPerRequest: number;
    handlerCpuUsPerEvent: number;
    /** the largest item of the runs table when they are done */
    largestRunItemBytes: number;
    breakdown: CostBreakdown;
  };
  alerts: { ingestToWebhookP50Ms: number; ingestToWebhookP95Ms: number; samples: number };
  memory: {
    ingestPeakRssMb: number;
    batch5mb: { status: number; baselineMb: number; peakMb: number; bodyBytes: number };
    gzipBomb: { status: number; baselineMb: number; peakMb: number; bodyBytes: number };
  };
  goals: Goal[];
}

export interface QuerySize {
  runs: number;
  events: number;
  days: number;
  runsGetP50Ms: number;
  runsGetP99Ms: number;
  runsListP50Ms: number;
  runsListP99Ms: number;
  rollupP50Ms: number;
  rollupP99Ms: number;
  runsGetReadUnits: number;
  runsListReadUnits: number;
  rollupReadUnits: number;
  rollupLocalReportedUnits: number;
  rollupRows: number;
}

export function machine(): Results['meta']['machine'] {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    os: `${osType()} ${release()}`,
  };
}

export function goals(r: Omit<Results, 'goals'>): Goal[] {
  return [
    { figure: 'cost per million events', value: r.cost.usdPerMillionEvents, unit: 'USD', goal: '≤ 0.25', pass: r.cost.usdPerMillionEvents <= 0.25 },
    { figure: 'cheaper than the naive writer', value: r.cost.naiveRatio, unit: '×', goal: '≥ 20', pass: r.cost.naiveRatio >= 20 },
    { figure: 'handler CPU ÷ parse floor', value: r.ingest.cpuRatioToFloor, unit: '×', goal: '≤ 5', pass: r.ingest.cpuRatioToFloor <= 5 },
    { figure: 'rollup read units, 10× data ÷ 1×', value: r.query.rollupReadRatio, unit: '×', goal: '≤ 1.2', pass: r.query.rollupReadRatio <= 1.2 },
    { figure: 'ingest-to-webhook p95', value: r.alerts.ingestToWebhookP95Ms, unit: 'ms', goal: '≤ 2000', pass: r.alerts.ingestToWebhookP95Ms <= 2000 },
    { figure: 'ingest peak RSS (5 MB batch, gzip bomb)', value: r.memory.ingestPeakRssMb, unit: 'MB', goal: '< 256', pass: r.memory.ingestPeakRssMb < 256 },
  ];
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? round(n, digits).toString() : String(n));

function figuresTable(r: Results): string {
  const q = r.query;
  const rows: (string | number)[][] = [
    ['ingest throughput', `${fmt(r.ingest.eventsPerSecond, 0)} events/s`, ''],
    ['handler CPU per event: ingest + day cells', `${fmt(r.ingest.handlerCpuUsPerEvent, 1)} µs = ${fmt(r.ingest.ingestCpuUsPerEvent, 1)} + ${fmt(r.ingest.aggregateCpuUsPerEvent, 1)}`, ''],
    ['  of which bare SDK round trips', `${fmt(r.ingest.ingestCallsPerEvent * r.ingest.sdkRoundTripCpuUs, 1)} µs (${fmt(r.ingest.ingestCallsPerEvent * 100, 1)} per 100 events × ${fmt(r.ingest.sdkRoundTripCpuUs, 0)} µs)`, ''],
    ['parse floor CPU per event', `${fmt(r.ingest.floorCpuUsPerEvent, 1)} µs`, ''],
    ['least possible: floor + 2 SDK requests each', `${fmt(r.ingest.leastCpuUsPerEvent, 1)} µs (${fmt(r.ingest.leastRatioToFloor, 1)}× the floor)`, ''],
    ['handler wall time p50 / p99', `${fmt(r.ingest.handlerMsP50, 0)} / ${fmt(r.ingest.handlerMsP99, 0)} ms`, ''],
    ['naive writer, per million events', `$${fmt(r.cost.naiveUsdPerMillionEvents, 3)}`, ''],
    [`long sessions, ${r.sessions.eventsPerRequest} events a request, per million events`, `$${fmt(r.sessions.usdPerMillionEvents, 3)} (${fmt(r.sessions.writeUnitsPerRequest, 1)} write units a request)`, ''],
    ['runs.get p50 / p99', `${fmt(q.runsGetP50Ms, 1)} / ${fmt(q.runsGetP99Ms, 1)} ms`, ''],
    ['runs.list p50 / p99', `${fmt(q.runsListP50Ms, 1)} / ${fmt(q.runsListP99Ms, 1)} ms`, ''],
    ['costs.rollup p50 / p99', `${fmt(q.rollupP50Ms, 1)} / ${fmt(q.rollupP99Ms, 1)} ms`, ''],
    ['rollup read units, 1× / 10×', `${fmt(q.rollupReadUnitsSmall, 1)} / ${fmt(q.rollupReadUnitsLarge, 1)}`, ''],
    ['ingest-to-webhook p50', `${fmt(r.alerts.ingestToWebhookP50Ms, 0)} ms`, ''],
    ['peak RSS: 5 MB batch / gzip bomb', `${fmt(r.memory.batch5mb.peakMb, 0)} / ${fmt(r.memory.gzipBomb.peakMb, 0)} MB`, ''],
  ];
  const goalRows = r.goals.map((g) => [g.figure, `${g.unit === 'USD' ? '$' : ''}${fmt(g.value, 3)}${g.unit === 'USD' ? '' : ` ${g.unit}`}`, `${g.goal} ${g.pass ? 'PASS' : 'FAIL'}`]);
  return table(['figure', 'value', 'goal'], [...goalRows, ...rows]);
}

const COST_LINES: [string, keyof Omit<CostBreakdown, 'perMillionEvents'>][] = [
  ['DynamoDB writes', 'dynamoWrites'],
  ['DynamoDB reads', 'dynamoReads'],
  ['S3 requests', 's3Requests'],
  [`S3 storage (14 days)`, 's3Storage'],
  ['Lambda requests', 'lambdaRequests'],
  ['Lambda duration', 'lambdaDuration'],
  ['API Gateway', 'apiGateway'],
  ['total', 'total'],
];

function costTable(r: Results): string {
  const b = r.cost.breakdown;
  const n = r.cost.naiveBreakdown;
  return table(['USD per million events', 'Lidless', 'naive'], COST_LINES.map(([label, k]) => [label, fmt(b[k], 4), fmt(n[k], 4)]));
}

function costTableOf(b: CostBreakdown): string {
  return table(['USD per million events', 'Lidless'], COST_LINES.map(([label, k]) => [label, fmt(b[k], 4)]));
}

function usageTable(r: Results): string {
  const rows = Object.entries(r.cost.byCommand)
    .sort((a, b) => b[1].writeUnits + b[1].readUnits - (a[1].writeUnits + a[1].readUnits) || b[1].requests - a[1].requests)
    .map(([k, v]) => [k, fmt(v.requests, 0), fmt(v.writeUnits, 0), fmt(v.readUnits, 0), fmt(v.localMsPerRequest, 1)]);
  return table(['per million events', 'requests', 'write units', 'read units', 'local ms per request'], rows);
}

function tableUnits(r: Results): string {
  const rows = Object.entries(r.cost.byTable)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [k, fmt(v, 0), `$${fmt(v * (k.endsWith(':write') ? 0.625 : 0.125) / 1e6, 4)}`]);
  return table(['table[/index]:kind', 'units per million events', 'USD per million events'], rows);
}

export function stdoutReport(r: Results): string {
  return [figuresTable(r), '', costTable(r), '', usageTable(r), '', tableUnits(r)].join('\n');
}

export function benchmarksMd(r: Results): string {
  const m = r.meta.machine;
  const q = r.query;
  return `# Benchmarks

Latest full run of \`${r.meta.command}\`, ${r.meta.date.slice(0, 10)}, in ${fmt(r.meta.durationS / 60, 1)} minutes.
Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB memory, Node ${m.node}, ${m.os}; load average
${fmt(r.meta.loadAverage[0], 1)} at the start and ${fmt(r.meta.loadAverage[1], 1)} at the end (other work on the machine slows the wall-time figures, not the counts).
The figures are also in \`bench/results.json\`; \`npm run bench -- --quick\` is a short run for development
(it prints the same table and writes its results to the temp directory, leaving these files alone).

## Goals

${figuresTable(r)}

## What ingest costs

${fmt(r.ingest.uniqueEvents, 0)} events of the seed dataset (\`cli/seed/generate.ts\`) in ${fmt(r.ingest.requests, 0)} requests (batches of up to 100 events of
whole runs, ${fmt(r.ingest.jsonBytesPerEvent, 0)} bytes of JSON per event, ${fmt(r.ingest.gzipBytesPerEvent, 0)} gzipped) through the ingest handler, ${r.ingest.concurrency} clients at a
time, priced at the AWS list prices of DESIGN.md. The naive writer (one S3 object and one DynamoDB item per event)
wrote a sample of ${fmt(r.cost.naiveSampleEvents, 0)} of the same events.

${costTable(r)}

AWS requests and DynamoDB capacity units, per million events:

${usageTable(r)}

${tableUnits(r)}

## Long sessions, exported on their own

${r.sessions.sessions} sessions of ${fmt(r.sessions.eventsPerSession, 0)} events (model calls, tool calls, a log line now and then; \`bench/sessions.ts\`), each
sent ${r.sessions.eventsPerRequest} events a request, as an agent's OpenTelemetry exporter does every few seconds when no Collector
batches sessions together. Every request pays its own raw object, API Gateway request and invocation, so
this shape costs more per event than the batches above; a long run's item stays small (its event hashes and
chunk ids are sealed into pages beside it), ${fmt(r.sessions.largestRunItemBytes, 0)} bytes at most when they are done.
Handler CPU: ${fmt(r.sessions.handlerCpuUsPerEvent, 1)} µs per event.

${costTableOf(r.sessions.breakdown)}

## Queries

Through the API handler, in-process. ${q.large.runs} runs (${fmt(q.large.events, 0)} events) and ${q.small.runs} runs (${fmt(q.small.events, 0)} events),
both over ${q.large.days} days; \`costs.rollup\` groups the whole period by model.

${table(
  ['query', `1× (${q.small.runs} runs) p50 / p99 ms`, 'read units', `10× (${q.large.runs} runs) p50 / p99 ms`, 'read units'],
  [
    ['runs.get', `${fmt(q.small.runsGetP50Ms, 1)} / ${fmt(q.small.runsGetP99Ms, 1)}`, fmt(q.small.runsGetReadUnits, 1), `${fmt(q.large.runsGetP50Ms, 1)} / ${fmt(q.large.runsGetP99Ms, 1)}`, fmt(q.large.runsGetReadUnits, 1)],
    ['runs.list (50)', `${fmt(q.small.runsListP50Ms, 1)} / ${fmt(q.small.runsListP99Ms, 1)}`, fmt(q.small.runsListReadUnits, 1), `${fmt(q.large.runsListP50Ms, 1)} / ${fmt(q.large.runsListP99Ms, 1)}`, fmt(q.large.runsListReadUnits, 1)],
    ['costs.rollup', `${fmt(q.small.rollupP50Ms, 1)} / ${fmt(q.small.rollupP99Ms, 1)}`, fmt(q.small.rollupReadUnits, 1), `${fmt(q.large.rollupP50Ms, 1)} / ${fmt(q.large.rollupP99Ms, 1)}`, fmt(q.large.rollupReadUnits, 1)],
  ],
)}

## How it is measured

- The embedded stack (\`startStack()\`: DynamoDB Local and the S3 server) runs in a child process with its data
  in RAM where the machine has it; the Lambda handlers run in the benchmark's process, called with API Gateway v2
  events, as a warm Lambda. So \`process.cpuUsage()\` around the ingest phase is the ingest handler's CPU alone.
  The stream handler's CPU is measured around each of its invocations after the ingest phase (the local stand-in
  for its event source reads the stream only then, in full batches; that polling is AWS's work, not counted).
- A bare SDK round trip (a GetItem of an absent item against the same DynamoDB, its own client) costs
  ${fmt(r.ingest.sdkRoundTripCpuUs, 0)} µs of CPU on this machine; the ingest handler makes ${fmt(r.ingest.ingestCallsPerEvent * 100, 1)} S3 and DynamoDB requests per 100 events, so
  ${fmt(r.ingest.ingestCallsPerEvent * r.ingest.sdkRoundTripCpuUs, 1)} µs per event (${fmt((r.ingest.ingestCallsPerEvent * r.ingest.sdkRoundTripCpuUs) / r.ingest.floorCpuUsPerEvent, 1)}× the parse floor) is the SDK's and the HTTP stack's before any payload is handled.
  A handler that did nothing but the floor's work and the two requests no design can spare (the raw object's
  PUT and one index write per request, ${fmt(r.ingest.eventsSent / r.ingest.requests, 0)} events each) would use ${fmt(r.ingest.leastCpuUsPerEvent, 1)} µs per event, ${fmt(r.ingest.leastRatioToFloor, 1)}× the floor:
  with the SDK's cost per request on this machine, that is the lowest ratio within reach, before any
  validation, redaction, indexing or day cells.
- Every S3 and DynamoDB request the handlers make is counted by middleware on their clients, with
  \`ReturnConsumedCapacity\` forced on. DynamoDB Local reports about one item's units for a whole
  TransactWriteItems; those units are computed from the items instead (2 per KB of the larger of the item's
  old and new image, plus 2 per local index entry written or removed; they agree with Local's figures on
  one-item transactions), and reads that found nothing are raised to the minimum AWS charges.
  Largest rollup item: ${fmt(r.cost.largestRollupItemBytes, 0)} bytes (a transactional update of an item over 1 KB costs 4 units).
- Lambda duration is each invocation's wall time at 512 MB; DynamoDB Local is slower than DynamoDB, so this
  line is pessimistic. API Gateway counts one request per 512 KB. S3 storage keeps the raw objects 14 days.
- Parse floor: the same request bodies through gunzip, \`JSON.parse\`, \`JSON.stringify\` and gzip, in the same run.
- Alerts: a rule \`run.cost_usd > 0.5\` and a local webhook receiver; ${r.alerts.samples} requests, each with a run that
  crosses it, timed from the ingest call to the webhook's arrival.
- Memory: a fresh process runs the handler on ${fmt(r.memory.batch5mb.bodyBytes / 1024 / 1024, 2)} MB of JSON (1000 events) and on a gzip
  bomb of ${fmt(r.memory.gzipBomb.bodyBytes / 1024, 0)} KB that inflates to 1 GiB (answered ${r.memory.gzipBomb.status}); peak is the process's maximum RSS,
  from a baseline of ${fmt(r.memory.batch5mb.baselineMb, 0)} MB after loading.
`;
}
