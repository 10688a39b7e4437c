import { parse } from './args.ts';
import { describeFailure } from './client.ts';
import { Context, DEFAULT_URL, type Command, type Io } from './context.ts';
import { UsageError } from './errors.ts';
import { tenantCreate, tenantsList } from './commands/tenants.ts';
import { keyCreate, keyRevoke } from './commands/keys.ts';
import { consultantCreate, consultantGrant, consultantRevoke } from './commands/consultants.ts';
import { runsList, runsShow, runsTrace } from './commands/runs.ts';
import { costs } from './commands/costs.ts';
import { seed } from './commands/seed.ts';

/**
 * `lidless <command>`: finds the command named by the leading words, parses its options and runs it.
 * Exit codes: 0 done, 1 failed (one line on stderr), 2 wrong command line (with usage).
 */
export const COMMANDS: readonly Command[] = [
  tenantsList,
  tenantCreate,
  keyCreate,
  keyRevoke,
  consultantCreate,
  consultantGrant,
  consultantRevoke,
  runsList,
  runsShow,
  runsTrace,
  costs,
  seed,
];

function overview(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return `usage: lidless <command> [options] [--json]

commands:
${commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`).join('\n')}

environment:
  LIDLESS_URL     the Lidless to talk to (default ${DEFAULT_URL})
  LIDLESS_TOKEN   the operator token, a tenant key (ldl_...) or a consultant token (ldc_...)
  LIDLESS_TENANT  the tenant of reader commands when the token reads several

--json prints the API's answer as JSON; lidless <command> --help shows a command's options.`;
}

/** Global flags may come anywhere before `--`; they are taken out before the command is looked up. */
function splitGlobals(argv: readonly string[]): { rest: string[]; json: boolean; help: boolean } {
  const rest: string[] = [];
  let json = false;
  let help = false;
  let literal = false;
  for (const arg of argv) {
    if (!literal && arg === '--') literal = true;
    if (!literal && arg === '--json') json = true;
    else if (!literal && (arg === '--help' || arg === '-h')) help = true;
    else rest.push(arg);
  }
  return { rest, json, help };
}

function findCommand(words: readonly string[]): { command?: Command; group: Command[]; consumed: number } {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => words[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  if (best) return { command: best, group: [best], consumed: best.path.length };
  const group = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === words[0]);
  return { group, consumed: group.length ? 1 : 0 };
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const { rest, json, help } = splitGlobals(argv);
  if (rest.length === 0) {
    if (help) {
      io.stdout(overview());
      return 0;
    }
    io.stderr(overview());
    return 2;
  }
  const { command, group, consumed } = findCommand(rest);
  if (!command) {
    if (group.length && help) {
      io.stdout(overview(group));
      return 0;
    }
    const message = group.length
      ? rest[1] === undefined
        ? `${rest[0]}: give a command (${group.map((c) => c.path[1]).join(', ')})`
        : `unknown command "${rest[0]} ${rest[1]}"`
      : `unknown command "${rest[0]}"`;
    io.stderr(`lidless: ${message}\n\n${overview(group.length ? group : COMMANDS)}`);
    return 2;
  }
  if (help) {
    io.stdout(command.usage);
    return 0;
  }
  const ctx = new Context(io, json);
  try {
    const args = parse(rest.slice(consumed), command.options, command.usage);
    await command.run(ctx, args);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`lidless: ${err.message}${err.usage ? `\n\n${err.usage}` : ''}`);
      return 2;
    }
    io.stderr(`lidless: ${describeFailure(err, ctx.url).message}`);
    return 1;
  }
}

/** The real process's streams and environment. */
export function processIo(): Io {
  // `lidless runs list | head`: a reader that went away is not an error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return {
    stdout: (text) => void process.stdout.write(`${text}\n`),
    stderr: (text) => void process.stderr.write(`${text}\n`),
    env: process.env,
  };
}
