#!/usr/bin/env node
// The `allsource` command line. This file only declares the grammar (commander) and delegates to
// src/cli/*; the store, Arrow and Parquet are loaded inside the commands that need them, so
// `allsource --help` answers without touching them.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { resolveContext, type GlobalOptions } from '../src/cli/context.js';
import { EXIT, debugEnabled, reportError } from '../src/cli/errors.js';
import { createOutput } from '../src/cli/output.js';
import { integerIn, collect, collectWhere, commaList } from '../src/cli/parse.js';
import { parseToolsets, type McpFlags } from '../src/cli/mcp.js';
import type { QueryFlags } from '../src/cli/query.js';
import type { CoreFlags } from '../src/cli/core.js';
import type { AdminFlags } from '../src/cli/admin.js';
import type { ServeFlags } from '../src/cli/serve.js';
import type { ConsoleFlags } from '../src/cli/console.js';
import type { RepairFlags } from '../src/cli/repair.js';
import type { MigrateFlags } from '../src/cli/migrate.js';
import { LIMITS } from '../src/core/types.js';

/** The package version, read at run time from package.json (two levels above dist/bin/allsource.js). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function buildProgram(): Command {
  const program = new Command('allsource')
    .description('Memory for AI agents on an immutable, tenant-scoped event log. With no command, serves MCP over stdio (`allsource mcp`); the other commands inspect and feed a local store.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--data <dir>', 'data directory (default: $ALLSOURCE_DATA, else ~/.allsource)')
    .option('--tenant <tenant>', 'tenant to read or write (default: "default"); for `keys`, the tenant of the key')
    .option('--json', 'machine-readable JSON on stdout')
    .configureHelp({ showGlobalOptions: true })
    // Usage errors exit 2 (below); store and runtime errors exit 1.
    .exitOverride();

  const out = createOutput(process.stdout);
  const context = (cmd: Command) => resolveContext(cmd.optsWithGlobals<GlobalOptions>());

  /** The store commands' `--core`: a running Core instead of the data directory. */
  const remoteCoreOption = (): Option => new Option('--core <url>', 'use this running Core instead of the data directory (key from ALLSOURCE_KEY, else ALLSOURCE_ADMIN_KEY)');

  // ── Subcommands ───────────────────────────────────────────────────────────────────────────
  // Each registers its flags here and delegates to src/cli/<name>.ts. Later verbs (serve, core)
  // are added in this section the same way.

  program
    .command('mcp')
    .description('serve the MCP tools over stdio; the default when no command is given (`npx allsource` is the MCP server). stdout carries protocol frames only')
    .option('--toolsets <groups>', 'comma-separated tool groups to serve: events, prime, graph (default: all)', parseToolsets)
    .option('--read-only', 'hide every tool that writes to the log, and open the data directory without writing to it (no lock file; works on a read-only directory)')
    .option('--export-dir <dir>', 'where export_events may write files (default: exports in the data directory)')
    .option('--import-dir <dir>', 'a directory import_events may read files from, besides the export directory (repeatable)', collect)
    .action(async (opts: McpFlags, cmd: Command) => {
      const { runMcp } = await import('../src/cli/mcp.js');
      await runMcp(context(cmd), opts);
    });

  program
    .command('tools')
    .description('list the MCP tools: name, group, read/write, title')
    .action(async (_opts: unknown, cmd: Command) => {
      const { runTools } = await import('../src/cli/tools.js');
      await runTools(context(cmd), out);
    });

  program
    .command('call')
    .description("run one MCP tool against the data directory and print its structured result as JSON (e.g. call get_snapshot '{\"entity_id\":\"user-1\"}')")
    .argument('<tool>', 'tool name (see `allsource tools`)')
    .argument('[args]', "the arguments as a JSON object; '-' reads them from stdin (default {})")
    .addOption(remoteCoreOption())
    .action(async (tool: string, args: string | undefined, _opts: unknown, cmd: Command) => {
      const { runCall } = await import('../src/cli/call.js');
      await runCall(context(cmd), tool, args, out);
    });

  program
    .command('ingest')
    .description('append events from JSONL (one event per line: entity_id, event_type, payload, optional metadata, id, occurred_at, expected_version)')
    .argument('[file]', "JSONL file; '-' or omitted reads stdin")
    .addOption(
      new Option('--batch-size <n>', `events per atomic append (1-${LIMITS.maxBatchEvents})`)
        .default(1000)
        .argParser(integerIn(1, LIMITS.maxBatchEvents)),
    )
    .option('--idempotent', 'give each record without an id one derived from its content (and how many identical records precede it), so running the same file again records nothing twice')
    .addOption(remoteCoreOption())
    .action(async (file: string | undefined, opts: { batchSize: number; idempotent?: boolean }, cmd: Command) => {
      const { runIngest } = await import('../src/cli/ingest.js');
      await runIngest(context(cmd), file, { batchSize: opts.batchSize, idempotent: opts.idempotent === true }, out);
    });

  program
    .command('import-memory')
    .description("import the reference MCP memory server's memory.jsonl (entities and relations) into Prime; skips entities whose name exists and duplicate relations, and imports nothing if any line is malformed")
    .argument('<file>', 'the memory.jsonl file (MEMORY_FILE_PATH of @modelcontextprotocol/server-memory)')
    .addOption(remoteCoreOption())
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const { runImportMemory } = await import('../src/cli/importMemory.js');
      await runImportMemory(context(cmd), file, out);
    });

  program
    .command('query')
    .description('list events matching filters (one page, or every page with --all)')
    .option('--entity <id>', 'exact entity id')
    .option('--entity-prefix <prefix>', 'entity ids starting with prefix')
    .option('--type <type>', 'exact event type')
    .option('--type-prefix <prefix>', 'event types starting with prefix')
    .option('--where <path=value>', 'payload field equals value (repeatable; value is JSON if it parses, else a string)', collectWhere)
    .option('--since <time>', 'recorded at or after (ISO-8601)')
    .option('--until <time>', 'recorded at or before (ISO-8601)')
    .option('--occurred-since <time>', 'occurred at or after (ISO-8601)')
    .option('--occurred-until <time>', 'occurred at or before (ISO-8601)')
    .option('--as-of <time>', 'only what had been recorded at this instant (ISO-8601)')
    .addOption(new Option('--order <order>', 'by position').choices(['asc', 'desc']))
    .option('--limit <n>', `page size (1-${LIMITS.maxPageSize}; default ${LIMITS.defaultPageSize}, or ${LIMITS.maxPageSize} with --all)`, integerIn(1, LIMITS.maxPageSize))
    .option('--cursor <cursor>', 'continue from a previous page (next_cursor)')
    .option('--include-deleted', 'include tombstoned events (marked [deleted])')
    .option('--all', 'follow cursors to the end, streaming (with --json: JSONL of events)')
    .addOption(remoteCoreOption())
    .action(async (opts: QueryFlags, cmd: Command) => {
      const { runQuery } = await import('../src/cli/query.js');
      await runQuery(context(cmd), opts, out);
    });

  program
    .command('state')
    .description("an entity's current state (merge-patch fold of its events), or as of an instant")
    .argument('<entity>', 'entity id')
    .option('--as-of <time>', 'fold only events recorded at or before this instant (ISO-8601)')
    .addOption(remoteCoreOption())
    .action(async (entity: string, opts: { asOf?: string }, cmd: Command) => {
      const { runState } = await import('../src/cli/state.js');
      await runState(context(cmd), entity, opts.asOf, out);
    });

  program
    .command('stats')
    .description("the tenant's counters and the store's health")
    .addOption(remoteCoreOption())
    .action(async (_opts: unknown, cmd: Command) => {
      const { runStats } = await import('../src/cli/stats.js');
      await runStats(context(cmd), out);
    });

  program
    .command('repair')
    .description('cut a damaged write-ahead log at --truncate-at (the offset an open refused at), keeping every event before it; backs the file up next to itself first (<file>.bak-<time>), and refuses while another process holds the directory')
    .requiredOption('--truncate-at <offset>', 'byte offset to cut at: a frame boundary at or before the damage', integerIn(0, Number.MAX_SAFE_INTEGER))
    .option('--file <name>', 'the log under <data>/wal, e.g. 000000000001.log (default: the first damaged one)')
    .option('--dry-run', 'report what would be kept and lost (events, frames, bytes); change nothing')
    .action(async (opts: RepairFlags, cmd: Command) => {
      const { runRepair } = await import('../src/cli/repair.js');
      await runRepair(context(cmd), opts, out);
    });

  program
    .command('pricing')
    .description('print what each tool call costs (x402): the pricing `serve` reads from --pricing FILE, $ALLSOURCE_PRICING_FILE or $ALLSOURCE_PRICING')
    .option('--pricing <file>', 'the pricing file (JSON)')
    .action(async (opts: { pricing?: string }, cmd: Command) => {
      const { runPricing } = await import('../src/cli/payments.js');
      await runPricing(context(cmd), opts, out);
    });

  program
    .command('pay')
    .description('sign an x402 payment for a PaymentRequired (a tool result, the bare object or its x402/error wrapper; --file or stdin) with the key in $ALLSOURCE_PAY_KEY; prints the PaymentPayload to send as _meta["x402/payment"]')
    .option('--file <path>', 'the PaymentRequired JSON (default: stdin)')
    .option('--max <amount>', 'refuse to sign for more than this many atomic units of the asset')
    .option('--payment-id <id>', 'a payment-identifier id (16-128 letters, digits, - or _) for idempotent retries')
    .action(async (opts: { file?: string; max?: string; paymentId?: string }, cmd: Command) => {
      const { runPay } = await import('../src/cli/pay.js');
      await runPay(context(cmd), opts, out);
    });

  program
    .command('payments')
    .description("list the tenant's x402 payment receipts (settled, failed, indeterminate), newest first")
    .option('--limit <n>', 'at most this many (default 100)', integerIn(1, 100_000))
    .addOption(remoteCoreOption())
    .action(async (opts: { limit?: number }, cmd: Command) => {
      const { runPayments } = await import('../src/cli/payments.js');
      await runPayments(context(cmd), opts, out);
    });

  program
    .command('core')
    .description('run the Core: the data directory behind a tenant-authenticated REST API (/api/v1), with /health, /ready, /metrics; admin key from ALLSOURCE_ADMIN_KEY')
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').default(3900).argParser(integerIn(0, 65535)))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--insecure-local', 'run without an admin key: requests without a key act as admin; loopback hosts only')
    .option('--rate-limit <n>', 'requests per second per key, 429 past it (default: no limit)', integerIn(1, 1_000_000))
    .option('--max-body-bytes <n>', 'largest request body (default 32 MiB)', integerIn(1024, 1024 * 1024 * 1024))
    .option('--max-artifact-bytes <n>', 'largest derived artifact a tenant may store, e.g. the Prime snapshot a serve instance starts from (default 256 MiB)', integerIn(1024, 1024 * 1024 * 1024))
    .option('--postgres <url>', 'serve PostgreSQL instead of the data directory (postgres:// URL of the runtime role; run `allsource migrate --postgres` first); any number of nodes may share one database')
    .action(async (opts: CoreFlags, cmd: Command) => {
      const { runCore } = await import('../src/cli/core.js');
      await runCore(context(cmd), opts);
    });

  program
    .command('serve')
    .description('serve the MCP tools over streamable HTTP at /mcp (stateless): --core URL (tenant keys checked against that Core; admin key from ALLSOURCE_ADMIN_KEY), --data DIR (one box: the Core API and /mcp on one port), or --local (no key, loopback only)')
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').default(3905).argParser(integerIn(0, 65535)))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--core <url>', 'the Core to serve (HttpCore); without it, the data directory in this process')
    .option('--postgres <url>', 'one box on PostgreSQL: the Core API and /mcp over PostgresCore (postgres:// URL of the runtime role) instead of the data directory')
    .option('--local', 'one operator, no key: the --tenant of the data directory, loopback only')
    .option('--gateway', 'behind a trusted gateway (with --core): X-Tenant-Id from callers holding ALLSOURCE_EDGE_KEY, instead of tenant keys')
    .option('--oauth-issuer <url>', 'OAuth 2.1 resource server (with --core): accept JWT access tokens from this issuer (tenant keys still work)')
    .option('--oauth-resource <url>', "this server's resource URL, the tokens' audience (default: its own /mcp URL)")
    .option('--oauth-tenant-claim <claim>', 'the token claim that names the tenant (default: tenant)')
    .option('--toolsets <groups>', 'comma-separated tool groups to serve: events, prime, graph (default: all)', parseToolsets)
    .option('--allowed-origins <origins>', 'comma-separated browser origins allowed to call /mcp (default: loopback pages on a loopback bind)', commaList)
    .option('--allowed-hosts <hosts>', 'comma-separated Host headers accepted on a loopback bind besides loopback names (e.g. behind a proxy)', commaList)
    .option('--max-body-bytes <n>', 'largest request body (default 16 MiB; 32 MiB with the Core API)', integerIn(1024, 1024 * 1024 * 1024))
    .option('--rate-limit <n>', 'MCP requests per second per tenant, per instance (burst twice that); 429 past it', integerIn(1, 1_000_000))
    .option('--sse', 'answer each request as a text/event-stream instead of one JSON body')
    .option('--pricing <file>', 'x402 prices for tool calls (JSON; else $ALLSOURCE_PRICING_FILE or $ALLSOURCE_PRICING): priced tools are paid per call in USDC past a free allowance')
    .action(async (opts: Omit<ServeFlags, 'dataGiven'>, cmd: Command) => {
      const { runServe } = await import('../src/cli/serve.js');
      await runServe(context(cmd), { ...opts, dataGiven: cmd.optsWithGlobals<GlobalOptions>().data !== undefined });
    });

  program
    .command('console')
    .description('open the web console on this machine: stats, a query builder, entity timelines, the Prime graph and a recall playground for the --tenant of --data, at http://127.0.0.1:PORT/console/ (loopback only, no key)')
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').default(3907).argParser(integerIn(0, 65535)))
    .option('--host <host>', 'loopback address to bind', '127.0.0.1')
    .action(async (opts: ConsoleFlags, cmd: Command) => {
      const { runConsole } = await import('../src/cli/console.js');
      await runConsole(context(cmd), opts);
    });

  program
    .command('migrate')
    .description('PostgreSQL: --postgres URL creates or upgrades the schema as the owner role (--runtime-role NAME grants the Core\'s role); --from DIR --to postgres://OWNER… (or the reverse) copies every tenant\'s log into an empty target and checks the integrity hashes of both sides')
    .option('--postgres <url>', 'postgres:// URL of the owner role: create or upgrade the schema')
    .option('--runtime-role <name>', 'with --postgres: the role `core --postgres` connects as (not a superuser, no BYPASSRLS); granted access under row-level security')
    .option('--from <source>', 'a data directory or a postgres:// URL (owner role) to copy from')
    .option('--to <target>', 'an empty data directory or an empty postgres:// database (owner role) to copy to')
    .action(async (opts: MigrateFlags, cmd: Command) => {
      const { runMigrate } = await import('../src/cli/migrate.js');
      await runMigrate(context(cmd), opts, out);
    });

  const coreOption = (): Option => new Option('--core <url>', 'the Core (default: $ALLSOURCE_CORE_URL, else http://127.0.0.1:3900); admin key from ALLSOURCE_ADMIN_KEY');
  const tenants = program.command('tenants').description('manage the tenants of a running Core (admin key)');
  tenants
    .command('create')
    .description('create a tenant')
    .argument('<tenant>', 'tenant id')
    .addOption(coreOption())
    .action(async (tenant: string, opts: AdminFlags, cmd: Command) => {
      const { runTenantsCreate } = await import('../src/cli/admin.js');
      await runTenantsCreate(context(cmd), tenant, opts, out);
    });
  tenants
    .command('list')
    .description('list tenants and how many active keys each has')
    .addOption(coreOption())
    .action(async (opts: AdminFlags, cmd: Command) => {
      const { runTenantsList } = await import('../src/cli/admin.js');
      await runTenantsList(context(cmd), opts, out);
    });
  tenants
    .command('quota')
    .description("show a tenant's daily quota of MCP tool calls and how many were leased today; --daily or --unlimited sets it (every serve instance holds it within 5 s)")
    .argument('<tenant>', 'tenant id')
    .addOption(new Option('--daily <n>', 'tool calls per UTC day (0 refuses every call)').argParser(integerIn(0, 1e12)).conflicts('unlimited'))
    .option('--unlimited', 'no quota (the default of every tenant)')
    .addOption(coreOption())
    .action(async (tenant: string, opts: AdminFlags & { daily?: number; unlimited?: boolean }, cmd: Command) => {
      const { runTenantsQuota } = await import('../src/cli/admin.js');
      await runTenantsQuota(context(cmd), tenant, opts, out);
    });

  const keys = program.command('keys').description('manage the API keys of a running Core (admin key)');
  keys
    .command('create')
    .description('create a key bound to the tenant given by --tenant (required) and print it (shown once; only its HMAC is stored)')
    .option('--read-only', 'the key may only read')
    .option('--label <text>', 'a note for people (who or what uses the key)')
    .addOption(coreOption())
    .action(async (opts: AdminFlags & { readOnly?: boolean; label?: string }, cmd: Command) => {
      const tenant = cmd.optsWithGlobals<GlobalOptions>().tenant;
      if (tenant === undefined) cmd.error("error: required option '--tenant <tenant>' not specified");
      const { runKeysCreate } = await import('../src/cli/admin.js');
      await runKeysCreate(context(cmd), { ...opts, tenant: tenant as string }, out);
    });
  keys
    .command('list')
    .description("list keys (ids, tenants, read-only, revoked), never their secrets; --tenant lists one tenant's")
    .addOption(coreOption())
    .action(async (opts: AdminFlags, cmd: Command) => {
      const { runKeysList } = await import('../src/cli/admin.js');
      await runKeysList(context(cmd), { ...opts, tenant: cmd.optsWithGlobals<GlobalOptions>().tenant }, out);
    });
  keys
    .command('revoke')
    .description('revoke a key; it fails from the next request on')
    .argument('<key_id>', 'the key id (see keys list)')
    .addOption(coreOption())
    .action(async (keyId: string, opts: AdminFlags, cmd: Command) => {
      const { runKeysRevoke } = await import('../src/cli/admin.js');
      await runKeysRevoke(context(cmd), keyId, opts, out);
    });

  return program;
}

/**
 * `allsource [options]` with no command runs `mcp`, so a client config can say just
 * `npx allsource`. Commander's own default command would also swallow a mistyped command
 * (`allsource frobnicate` would start a server), so the default applies only when the arguments
 * hold no operand at all; the options' own values are recognized from the grammar.
 */
function withDefaultCommand(program: Command, argv: string[]): string[] {
  const [node, script, ...args] = argv;
  const mcp = program.commands.find((c) => c.name() === 'mcp');
  const takesValue = new Set<string>();
  for (const option of [...program.options, ...(mcp?.options ?? [])]) {
    if (!option.required && !option.optional) continue;
    if (option.long) takesValue.add(option.long);
    if (option.short) takesValue.add(option.short);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help' || arg === '-V' || arg === '--version') return argv;
    if (!arg.startsWith('-')) return argv; // a command, or a mistyped one: commander decides
    if (takesValue.has(arg)) i++;
  }
  return [node, script, 'mcp', ...args];
}

async function main(argv: string[]): Promise<void> {
  const debug = debugEnabled();
  // Last resort: whatever escapes still gets the one-line report and never a default stack dump.
  // Exit right away: after an escaped error the command's state is unknown.
  const fatal = (err: unknown): never => process.exit(reportError(err, debug));
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  try {
    const program = buildProgram();
    await program.parseAsync(withDefaultCommand(program, argv));
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed the message (or the help / version text).
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    process.exitCode = reportError(err, debug);
  }
}

await main(process.argv);
