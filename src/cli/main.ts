// vigil's command line. Every failure is one line on stderr (`vigil: …`) and a non-zero exit, never a stack
// trace: 2 for bad usage, 1 for everything else.
import { ConfigError } from "../common/errors.ts";
import { type Command, helpText, parseFlags } from "./args.ts";
import { cancelCommand } from "./cancel.ts";
import { chaosCommand } from "./chaos.ts";
import { demoCommand } from "./demo.ts";
import { drillCommand } from "./drill.ts";
import { electCommand } from "./elect.ts";
import { jobmanagerCommand } from "./jobmanager.ts";
import { leaderCommand } from "./leader.ts";
import { listCommand } from "./list.ts";
import { localCommand } from "./local.ts";
import { overviewCommand } from "./overview.ts";
import { runCommand } from "./run.ts";
import { savepointCommand, stopCommand } from "./savepoint.ts";
import { submitCommand } from "./submit.ts";
import { taskmanagerCommand } from "./taskmanager.ts";

const commands: readonly Command[] = [
  jobmanagerCommand,
  taskmanagerCommand,
  runCommand,
  submitCommand,
  listCommand,
  cancelCommand,
  savepointCommand,
  stopCommand,
  drillCommand,
  chaosCommand,
  overviewCommand,
  leaderCommand,
  localCommand,
  electCommand,
  demoCommand,
];

function usage(): string {
  const lines = [
    "vigil — a high-availability job coordinator",
    "",
    "Usage: vigil COMMAND [OPTIONS]",
    "",
    "Commands:",
  ];
  for (const c of commands) lines.push(`  ${c.name.padEnd(13)}${c.summary}`);
  lines.push("", "Run `vigil COMMAND --help` for a command's options.");
  return lines.join("\n") + "\n";
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`vigil: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    const { values, positionals } = parseFlags(command, rest);
    if (values.help === true) {
      process.stdout.write(helpText(command));
      return 0;
    }
    return await command.run(values, positionals);
  } catch (e: unknown) {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vigil ${command.name}: ${message}\n`);
    return e instanceof ConfigError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Open handles (a client still reconnecting) must not keep a finished command alive.
setTimeout(() => process.exit(), 100).unref();
